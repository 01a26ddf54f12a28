import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { renderedDiff } from '../../src/gitops/rendered-diff.js';
import { createHoist, type Hoist } from '../../src/hoist.js';
import { TEST_GIT_ENV, createTempGitops, git, type TempGitops } from '../helpers/git-repos.js';
import { pipelineEvent, settled, startTestHoist, testConfigText, waitFor, webhookRequest, type TestHoist } from '../helpers/hoist.js';

// What the GitOps repository holds is input like any other: a kustomization that would hang or exhaust the
// process fails its promotion at once with its reason while Hoist keeps serving; what Hoist shows of a render
// never carries Secret data; and readiness that failed for a cause that has gone turns ready again.

const MIB = 1024 * 1024;
const OVERLAY = 'overlays/dev/kustomization.yaml';

/** Nine levels of ten aliases each: about 10^9 nodes once expanded, in under 1 KB. */
function billionLaughs(): string {
  const levels = ['  lol0: &lol0 lol'];
  for (let level = 1; level <= 9; level++) levels.push(`  lol${level}: &lol${level} [${Array(10).fill(`*lol${level - 1}`).join(', ')}]`);
  return `commonAnnotations:\n${levels.join('\n')}\n`;
}

describe('a hostile kustomization in the GitOps repo', () => {
  let gitops: TempGitops;
  let hoist: TestHoist;
  let original: string;

  /** Someone with push access rewrites the dev overlay; Hoist then gets a pipeline for it. */
  const pushOverlay = async (text: string, message: string): Promise<string> => {
    const clone = await gitops.clone();
    await writeFile(join(clone, OVERLAY), text);
    await git(clone, 'commit', '-q', '-am', message);
    await git(clone, 'push', '-q', 'origin', 'main');
    return (await git(gitops.bare, 'rev-parse', 'main')).trim();
  };
  const promote = async (id: number): Promise<Record<string, unknown>> => {
    const res = await hoist.app.request('/webhooks/gitlab', webhookRequest(await pipelineEvent({ id })));
    expect(res.status).toBe(202);
    const { promotions } = (await res.json()) as { promotions: Array<{ id: string; env: string }> };
    expect(promotions.map((p) => p.env)).toEqual(['dev']);
    return settled(hoist, promotions[0]!.id);
  };

  beforeAll(async () => {
    gitops = await createTempGitops();
    original = await git(gitops.bare, 'show', `main:${OVERLAY}`);
    hoist = await startTestHoist(testConfigText(gitops.url));
  });
  afterAll(async () => {
    await hoist?.close();
    await gitops?.cleanup();
  });

  it.each([
    ['a "billion laughs" of YAML aliases', () => `${original}${billionLaughs()}`, /its YAML aliases expand beyond 100 nodes/],
    ['3 MiB', () => `${original}# ${'padding '.repeat((3 * MIB) / 8)}\n`, /kustomization is 3 MiB; Hoist reads kustomization files of at most 512 KiB/],
    ['20 MiB', () => `${original}${`# ${'padding '.repeat(9)}\n`.repeat(Math.ceil((20 * MIB) / 75))}`, /kustomization is 20 MiB; Hoist reads kustomization files of at most 512 KiB/],
  ])('%s fails its promotion at once with the reason, and nothing is pushed', async (what, text, reason) => {
    const head = await pushOverlay(text(), `dev overlay: ${what}`);
    const final = await promote(600 + Math.floor(Math.random() * 1_000_000));
    expect(final.state).toBe('failed');
    expect(final.error).toMatch(reason);
    // Refused as it is, not retried: a fresh clone would hold the same file.
    expect(final.attempts).toBe(1);
    expect((await git(gitops.bare, 'rev-parse', 'main')).trim()).toBe(head);
    expect((await hoist.app.request('/healthz')).status).toBe(200);
  });

  it('and once the file is fixed, the same Hoist promotes again', async () => {
    await pushOverlay(original, 'dev overlay: back to normal');
    const final = await promote(2_000_000);
    expect(final.state).toBe('committed');
    expect(await git(gitops.bare, 'show', `main:${OVERLAY}`)).toContain('newTag: "a1b2c3d4"');
  });
});

describe('the rendered diff that merge-request mode writes into GitLab', () => {
  const secret = (password: string, token: string) =>
    `apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ndata:\n  username: YWRtaW4=\n  password: ${Buffer.from(password).toString('base64')}\nstringData:\n  token: ${token}\n`;
  const deployment = (tag: string) =>
    `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n      - name: web\n        image: registry.example.com/group/web:${tag}\n`;

  it('shows which Secret values changed, by key and hash, and never the values', async () => {
    const before = `${deployment('v1')}---\n${secret('hunter2', 'old-api-token')}`;
    const after = `${deployment('v2')}---\n${secret('correct horse battery staple', 'new-api-token')}`;
    const diff = await renderedDiff(before, after, 'overlays/dev', TEST_GIT_ENV);

    for (const value of ['hunter2', 'correct horse battery staple', 'old-api-token', 'new-api-token', 'aHVudGVyMg==', Buffer.from('correct horse battery staple').toString('base64'), 'YWRtaW4=']) {
      expect(diff).not.toContain(value);
    }
    const changed = (key: string) => {
      const removed = diff.match(new RegExp(`^- {2}${key}: (<redacted hmac-sha256:[0-9a-f]{16}>)$`, 'm'))?.[1];
      const added = diff.match(new RegExp(`^\\+ {2}${key}: (<redacted hmac-sha256:[0-9a-f]{16}>)$`, 'm'))?.[1];
      return { removed, added };
    };
    for (const key of ['password', 'token']) {
      const { removed, added } = changed(key);
      expect(removed, diff).toBeDefined();
      expect(added, diff).toBeDefined();
      expect(removed).not.toBe(added);
    }
    // An unchanged value is unchanged in the diff (context or absent), never shown as a change.
    expect(diff).not.toMatch(/^[-+] {2}username:/m);
    // The Deployment, not a Secret, is diffed as rendered.
    expect(diff).toContain('-        image: registry.example.com/group/web:v1\n+        image: registry.example.com/group/web:v2');
    expect(diff).toMatch(/^--- overlays\/dev \(before\)$/m);
  });

  it('a change to nothing but a Secret value still shows as a change, and nothing else', async () => {
    const diff = await renderedDiff(secret('one', 't'), secret('two', 't'), 'overlays/dev', TEST_GIT_ENV, { redactionKey: randomBytes(32) });
    const changes = diff.split('\n').filter((line) => /^[-+](?![-+]{2} )/.test(line));
    expect(changes).toEqual([expect.stringMatching(/^- {2}password: <redacted hmac-sha256:[0-9a-f]{16}>$/), expect.stringMatching(/^\+ {2}password: <redacted hmac-sha256:[0-9a-f]{16}>$/)]);
  });
});

describe('/readyz after a cause that clears', () => {
  let root = '';
  let gitops: TempGitops;
  let hoist: Hoist | undefined;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'hoist-readyz-'));
    gitops = await createTempGitops();
  });
  afterAll(async () => {
    await hoist?.close();
    await gitops?.cleanup();
    await rm(root, { recursive: true, force: true });
  });

  it('a data dir that cannot be made at the first probe: 503 naming it, then 200 once it can be made', async () => {
    // The volume is not there yet: where the data dir should go, a file stands in the way.
    const blocker = join(root, 'volume');
    await writeFile(blocker, 'not a directory');
    const dataDir = join(blocker, 'hoist-data');
    const config = parseConfig(testConfigText(gitops.url), 'test.yaml', {});
    hoist = createHoist({
      config: { ...config, queue: { ...config.queue, prefix: `t${randomUUID().slice(0, 8)}` } },
      redisUrl: inject('redisUrl'),
      dataDir,
      logger: pino({ level: 'silent' }, new Writable({ write: (_chunk, _enc, done) => done() })),
      gitBaseEnv: TEST_GIT_ENV,
      role: 'web',
    });
    await hoist.ready();

    const first = await hoist.app.request('/readyz');
    expect(first.status).toBe(503);
    const body = (await first.json()) as { checks: Record<string, string> };
    expect(body.checks.gitops).toContain(`cannot create the data directory ${dataDir}`);

    await rm(blocker);
    const ready = await waitFor(async () => {
      const res = await hoist!.app.request('/readyz');
      return res.status === 200 ? ((await res.json()) as { checks: Record<string, string> }) : undefined;
    }, '/readyz to turn 200');
    expect(ready.checks).toMatchObject({ gitops: 'ok', redis: 'ok' });
    expect((await stat(dataDir)).isDirectory()).toBe(true);
  });
});
