import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import type { ImageEdit } from '../../src/domain/ports.js';
import type { Workspace } from '../../src/gitops/workspace.js';
import { createRenderCache } from '../../src/gitops/render-cache.js';
import { createPushWriter } from '../../src/gitops/writer.js';
import { createPushedHeads } from '../../src/store/pushed-heads.js';
import { createKustomizeRenderer } from '../../src/kustomize/index.js';
import { createTempGitops, git, type TempGitops } from '../helpers/git-repos.js';
import { testSigning, testWorkspace } from '../helpers/signing.js';
import { imageEdit } from '../helpers/image-edit.js';

const renderer = createKustomizeRenderer();
const logger = pino({ level: 'silent' });

const edit = imageEdit;

describe('push writer', () => {
  let gitops: TempGitops;
  let workspace: Workspace;

  beforeEach(async () => {
    gitops = await createTempGitops();
    workspace = testWorkspace(gitops, testSigning());
  });
  afterEach(() => gitops.cleanup());

  it('lands several promotions in one commit that lists each trailer group in order', async () => {
    const writer = createPushWriter({ workspace, renderer, logger });
    const outcomes = await writer.apply([
      edit({ promotionId: 'p-dev', tag: 'v2' }),
      edit({ promotionId: 'p-staging', env: 'staging', path: 'overlays/staging', tag: 'v1' }),
    ]);
    const head = (await git(gitops.bare, 'rev-parse', 'main')).trim();
    expect(outcomes).toEqual([
      { promotionId: 'p-dev', state: 'committed', commit: head },
      { promotionId: 'p-staging', state: 'committed', commit: head },
    ]);
    const message = await git(gitops.bare, 'log', '-1', '--format=%B', 'main');
    expect(message.split('\n')[0]).toBe('promote 2 images to dev, staging');
    const trailers = (await git(gitops.bare, 'log', '-1', '--format=%(trailers:only,unfold)', 'main')).trim().split('\n');
    expect(trailers.filter((t) => t.startsWith('Hoist-Promotion'))).toEqual(['Hoist-Promotion: p-dev', 'Hoist-Promotion: p-staging']);
    expect(trailers).toHaveLength(10);
    expect(trailers.slice(0, 5).map((t) => t.split(':')[0])).toEqual(['Hoist-App', 'Hoist-Env', 'Hoist-Tag', 'Hoist-Promotion', 'Hoist-Source']);
    expect(await git(gitops.bare, 'diff', '--stat', 'main~1', 'main')).toMatch(/2 files changed, 2 insertions\(\+\), 2 deletions\(-\)/);
  });

  it('lets the newest pipeline win when one batch holds two promotions of the same app and environment', async () => {
    const writer = createPushWriter({ workspace, renderer, logger });
    const source = (pipelineId: number): ImageEdit['source'] => ({ kind: 'pipeline', project: 'group/web', pipelineId, url: `https://gitlab.example.com/group/web/-/pipelines/${pipelineId}`, ref: 'main', sha: 'a'.repeat(40) });
    const newer = edit({ promotionId: 'p-new', tag: 'v9', source: source(9) });
    const older = edit({ promotionId: 'p-old', tag: 'v8', source: source(8) });
    const outcomes = await writer.apply([newer, older]);
    expect(outcomes.find((o) => o.promotionId === 'p-old')).toMatchObject({ state: 'skipped', reason: expect.stringContaining('superseded by promotion p-new') });
    expect(outcomes.find((o) => o.promotionId === 'p-new')).toMatchObject({ state: 'committed' });
    expect(await git(gitops.bare, 'show', 'main:overlays/dev/kustomization.yaml')).toContain('newTag: "v9"');
  });

  it('re-applies on the new head when someone else pushed in between, keeping their change', async () => {
    const other = await gitops.clone('other');
    let pushes = 0;
    const racing: Workspace = {
      ...workspace,
      async push(commit) {
        if (pushes++ === 0) {
          await writeFile(join(other, 'README.md'), 'someone else was here\n');
          await git(other, 'add', 'README.md');
          await git(other, 'commit', '-q', '-m', 'unrelated change');
          await git(other, 'push', '-q', 'origin', 'main');
        }
        return workspace.push(commit);
      },
    };
    const writer = createPushWriter({ workspace: racing, renderer, logger, sleep: async () => undefined });
    const [outcome] = await writer.apply([edit({ promotionId: 'p-race', tag: 'v3' })]);
    expect(outcome).toMatchObject({ state: 'committed' });
    expect(pushes).toBe(2);
    const log = await git(gitops.bare, 'log', '--format=%s', 'main');
    expect(log.split('\n').slice(0, 3)).toEqual(['promote web to dev: v3', 'unrelated change', 'seed demo GitOps repository']);
    expect(await git(gitops.bare, 'show', 'main:README.md')).toBe('someone else was here\n');
  });

  it('after its own push, builds on that push without fetching, and never loses or revives what others pushed or removed since', async () => {
    let pushes = 0;
    let syncs: boolean[] = [];
    const counting: Workspace = {
      ...workspace,
      push: (commit) => (pushes++, workspace.push(commit)),
      sync: async (options) => {
        const result = await workspace.sync(options);
        syncs.push(result.fetched);
        return result;
      },
    };
    const writer = createPushWriter({ workspace: counting, renderer, logger, sleep: async () => undefined });
    expect(await writer.apply([edit({ promotionId: 'p-1', tag: 'v1' })])).toMatchObject([{ state: 'committed' }]);
    const first = (await git(gitops.bare, 'rev-parse', 'main')).trim();

    // Someone else pushes between two promotions: the lease refuses the push built on the old head, the edit lands on theirs.
    const other = await gitops.clone('other');
    await writeFile(join(other, 'README.md'), 'someone else was here\n');
    await git(other, 'add', 'README.md');
    await git(other, 'commit', '-q', '-m', 'unrelated change');
    await git(other, 'push', '-q', 'origin', 'main');
    pushes = 0;
    syncs = [];
    expect(await writer.apply([edit({ promotionId: 'p-2', tag: 'v2' })])).toMatchObject([{ state: 'committed' }]);
    expect(pushes).toBe(2);
    expect(syncs).toEqual([false, true]); // built on our own push without a fetch, refused, then fetched
    expect((await git(gitops.bare, 'log', '--format=%s', 'main')).split('\n').slice(0, 3)).toEqual(['promote web to dev: v2', 'unrelated change', 'promote web to dev: v1']);
    expect(await git(gitops.bare, 'show', 'main:README.md')).toBe('someone else was here\n');

    // Nobody else pushed: one push, straight on top of our own commit.
    pushes = 0;
    syncs = [];
    expect(await writer.apply([edit({ promotionId: 'p-3', tag: 'v3' })])).toMatchObject([{ state: 'committed' }]);
    expect(pushes).toBe(1);
    expect(syncs).toEqual([false]);
    expect((await git(gitops.bare, 'log', '--format=%s', 'main')).split('\n').slice(0, 2)).toEqual(['promote web to dev: v3', 'promote web to dev: v2']);

    // Someone resets the branch to an older commit by force: our next commit goes on top of that, not on what they removed.
    await git(gitops.bare, 'update-ref', 'refs/heads/main', first);
    pushes = 0;
    syncs = [];
    expect(await writer.apply([edit({ promotionId: 'p-4', tag: 'v4' })])).toMatchObject([{ state: 'committed' }]);
    expect(pushes).toBe(2);
    expect(syncs).toEqual([false, true]);
    const log = (await git(gitops.bare, 'log', '--format=%s', 'main')).split('\n').filter(Boolean);
    expect(log.slice(0, 2)).toEqual(['promote web to dev: v4', 'promote web to dev: v1']);
    expect(log).not.toContain('unrelated change');
  });

  it('commits nothing when the edits of one batch cancel out (a version, then a rollback to the running one)', async () => {
    const writer = createPushWriter({ workspace, renderer, logger });
    await writer.apply([edit({ promotionId: 'p-1', tag: 'v1' })]);
    const head = (await git(gitops.bare, 'rev-parse', 'main')).trim();
    const outcomes = await writer.apply([
      edit({ promotionId: 'p-up', tag: 'v2' }),
      edit({ promotionId: 'p-back', tag: 'v1', source: { kind: 'rollback', by: 'alice', via: 'api' } }),
    ]);
    expect(outcomes).toEqual([
      { promotionId: 'p-up', state: 'skipped', reason: expect.stringMatching(/dev already runs registry\.example\.com\/group\/web:v1: the edits of this batch cancel out/) },
      { promotionId: 'p-back', state: 'skipped', reason: expect.stringMatching(/cancel out/) },
    ]);
    expect((await git(gitops.bare, 'rev-parse', 'main')).trim()).toBe(head);
    expect(await git(gitops.bare, 'show', 'main:overlays/dev/kustomization.yaml')).toContain('newTag: "v1"');
  });

  it('recovers a clone left broken by a crash: index lock, detached head, dirty tree, unpushed commit', async () => {
    const writer = createPushWriter({ workspace, renderer, logger });
    await writer.apply([edit({ promotionId: 'p-1', tag: 'v1' })]);
    const dir = workspace.dir;
    await writeFile(join(dir, 'overlays/dev/kustomization.yaml'), 'half: written');
    await writeFile(join(dir, 'stray.txt'), 'junk');
    await git(dir, 'commit', '-q', '-am', 'local commit that never got pushed');
    await git(dir, 'checkout', '-q', '--detach', 'HEAD~1');
    await writeFile(join(dir, '.git/index.lock'), '');
    const [outcome] = await writer.apply([edit({ promotionId: 'p-2', tag: 'v2' })]);
    expect(outcome).toMatchObject({ state: 'committed' });
    expect(await git(gitops.bare, 'log', '--format=%s', 'main')).toBe('promote web to dev: v2\npromote web to dev: v1\nseed demo GitOps repository\n');
    const file = await git(gitops.bare, 'show', 'main:overlays/dev/kustomization.yaml');
    expect(file).toContain('newTag: "v2"');
    expect(file).not.toContain('half: written');
    expect(await git(gitops.bare, 'ls-tree', '--name-only', 'main')).not.toContain('stray.txt');
  });

  it('recognises a promotion that landed before a crash by its trailer and does not commit it again', async () => {
    const writer = createPushWriter({ workspace, renderer, logger });
    const first = await writer.apply([edit({ promotionId: 'p-crash', tag: 'v5' })]);
    const again = await writer.apply([edit({ promotionId: 'p-crash', tag: 'v5', mayHaveLanded: true })]);
    expect(again).toEqual(first);
    expect(Number((await git(gitops.bare, 'rev-list', '--count', 'main')).trim())).toBe(2);
  });

  it('takes no commit for its own unless Hoist signed it: a forged Hoist-Promotion trailer does not "already land" a promotion', async () => {
    const other = await gitops.clone('mallory');
    const file = join(other, 'overlays/dev/kustomization.yaml');
    await writeFile(file, (await readFile(file, 'utf8')).replace(/newTag: .*/, 'newTag: "v5"'));
    await git(other, 'commit', '-qam', 'promote web to dev: v5\n\nHoist-App: web\nHoist-Env: dev\nHoist-Tag: v5\nHoist-Promotion: p-crash\nHoist-Source: x');
    await git(other, 'push', '-q', 'origin', 'main');
    const forged = (await git(gitops.bare, 'rev-parse', 'main')).trim();
    const writer = createPushWriter({ workspace, renderer, logger });
    const [outcome] = await writer.apply([edit({ promotionId: 'p-crash', tag: 'v5', mayHaveLanded: true })]);
    expect(outcome).toEqual({ promotionId: 'p-crash', state: 'skipped', reason: 'dev already runs registry.example.com/group/web:v5' });
    expect(outcome).not.toHaveProperty('commit', forged);
  });

  it('fails only the promotion whose overlay is missing and lands the rest', async () => {
    const writer = createPushWriter({ workspace, renderer, logger });
    const outcomes = await writer.apply([edit({ promotionId: 'p-ok', tag: 'v6' }), edit({ promotionId: 'p-missing', env: 'qa', path: 'overlays/qa', tag: 'v6' })]);
    expect(outcomes).toEqual([
      { promotionId: 'p-ok', state: 'committed', commit: expect.any(String) },
      { promotionId: 'p-missing', state: 'failed', error: 'overlay "overlays/qa" of environment qa has no kustomization.yaml on the GitOps branch' },
    ]);
  });

  it('renders an overlay once per shape: tag-only changes reuse the passed check, any other change renders again', async () => {
    let renders = 0;
    const counting = { render: (dir: string) => (renders++, renderer.render(dir)) };
    const writer = createPushWriter({ workspace, renderer: counting, renderCache: createRenderCache(workspace), logger });
    for (const tag of ['v1', 'v2', 'v3']) expect((await writer.apply([edit({ promotionId: `p-${tag}`, tag })]))[0]).toMatchObject({ state: 'committed' });
    expect(renders).toBe(1);
    // Each overlay renders once; later promotions there reuse it with the image references swapped.
    expect((await writer.apply([edit({ promotionId: 'p-stg', tag: 'v3', env: 'staging', path: 'overlays/staging' })]))[0]).toMatchObject({ state: 'committed' });
    expect(renders).toBe(2);
    expect((await writer.apply([edit({ promotionId: 'p-stg2', tag: 'v4', env: 'staging', path: 'overlays/staging' })]))[0]).toMatchObject({ state: 'committed' });
    expect(renders).toBe(2);
    // Someone changes the base: the next promotion must render again, and a broken base must be caught.
    const other = await gitops.clone('other');
    const deployment = join(other, 'gitops-manifests/base/deployment.yaml');
    await writeFile(deployment, (await readFile(deployment, 'utf8')).replace('image: registry.example.com/group/web', 'image: registry.example.com/group/other'));
    await git(other, 'commit', '-qam', 'base now runs another image');
    await git(other, 'push', '-q', 'origin', 'main');
    const [broken] = await writer.apply([edit({ promotionId: 'p-v4', tag: 'v4' })]);
    // A failed render is tried once more on a restored working tree (it may be the tree's fault): two renders.
    expect(renders).toBe(4);
    expect(broken).toMatchObject({ state: 'failed', error: expect.stringMatching(/registry\.example\.com\/group\/web:v4/) });
    // The reason names the overlay in the GitOps repo, never the worker's local clone.
    expect((broken as { error: string }).error).toContain('overlays/dev');
    expect((broken as { error: string }).error).not.toContain(workspace.dir);
  });

  it('names the cause and retries only what is transient when the remote is unreachable or refuses', async () => {
    const missing = testWorkspace(gitops, testSigning(), { access: { url: 'file:///nonexistent/gitops.git' }, dir: join(gitops.root, 'ws-missing') });
    const writer = createPushWriter({ workspace: missing, renderer, logger });
    await expect(writer.apply([edit({ promotionId: 'p-x', tag: 'v1' })])).rejects.toMatchObject({ code: 'git_transient', retryable: true });

    const hook = join(gitops.bare, 'hooks/pre-receive');
    await writeFile(hook, '#!/bin/sh\necho "GitLab: You are not allowed to push code to protected branches on this project." >&2\nexit 1\n', { mode: 0o755 });
    const protectedWriter = createPushWriter({ workspace, renderer, logger });
    const error = await protectedWriter.apply([edit({ promotionId: 'p-y', tag: 'v1' })]).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'git_rejected', retryable: false });
    expect((error as Error).message).toMatch(/protected branch/);
    expect(Number((await git(gitops.bare, 'rev-list', '--count', 'main')).trim())).toBe(1);
  });

  it('knows from Redis when another worker pushed since its own push: fetches first instead of pushing a commit on a stale head', async () => {
    const redis = new Redis(inject('redisUrl'));
    try {
      const heads = createPushedHeads(redis, `t${Date.now().toString(36)}`);
      // Two workers, each with its own clone of the one repository, as two processes would have.
      const workers = ['a', 'b'].map((name) => {
        const own = testWorkspace(gitops, testSigning(), { dir: join(gitops.root, `workspace-${name}`) });
        const count = { pushes: 0, retries: 0 };
        const counted: Workspace = { ...own, push: (commit) => (count.pushes++, own.push(commit)) };
        const pushedHead = { read: () => heads.read('main'), record: (commit: string) => heads.record('main', commit) };
        return { count, writer: createPushWriter({ workspace: counted, renderer, logger, pushedHead, onPushRetry: () => count.retries++ }) };
      });
      const [a, b] = workers as [(typeof workers)[number], (typeof workers)[number]];
      // Each worker's first promotion fetches anyway; after that the two alternate, as a queue hands jobs to either.
      for (const [i, w] of [a, b, a, b, a].entries()) expect(await w.writer.apply([edit({ promotionId: `p-${i}`, tag: `v${i}` })])).toMatchObject([{ state: 'committed' }]);
      expect(a.count).toEqual({ pushes: 3, retries: 0 });
      expect(b.count).toEqual({ pushes: 2, retries: 0 });
      expect(await git(gitops.bare, 'show', 'main:overlays/dev/kustomization.yaml')).toContain('newTag: "v4"');
      expect(Number((await git(gitops.bare, 'rev-list', '--count', 'main')).trim())).toBe(6);
    } finally {
      redis.disconnect();
    }
  });
});
