import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ImageEdit } from '../../src/domain/ports.js';
import { createGitlabApi } from '../../src/gitlab/api.js';
import { createApiWriter, type ApiWriterOptions } from '../../src/gitops/api-writer.js';
import { buildCommitMessage } from '../../src/gitops/commit-message.js';
import { startGitlabStub, type GitlabStub } from '../helpers/gitlab-stub.js';
import { imageEdit } from '../helpers/image-edit.js';
import { hoistFailure } from '../helpers/failures.js';

const PROJECT = 'group/gitops';
const TOKEN = 'glpat-api-writer';
const logger = pino({ level: 'silent' });
const noWait = async () => {};

/** A hand-written overlay: comments, odd spacing and quoting that a re-serialising editor would lose. */
const overlay = (env: string, webTag: string, apiTag = '0.0.1') =>
  `# ${env} overlay — maintained by people and by Hoist
resources:
  - ../../base   # shared manifests

images:
  - name: registry.example.com/group/web
    newTag: "${webTag}"     # web's tag
  - name: registry.example.com/group/api
    newTag: '${apiTag}'
`;

const edit = imageEdit;

const pipeline = (pipelineId: number): ImageEdit['source'] => ({
  kind: 'pipeline',
  project: 'group/web',
  pipelineId,
  url: `https://gitlab.example.com/group/web/-/pipelines/${pipelineId}`,
  ref: 'main',
  sha: 'a'.repeat(40),
});

describe('API writer (write: api, through the GitLab Commits API)', () => {
  let stub: GitlabStub;
  const writer = (over: Partial<ApiWriterOptions> = {}) =>
    createApiWriter({
      gitlab: createGitlabApi({ url: stub.url, token: TOKEN }),
      project: PROJECT,
      branch: 'main',
      author: { name: 'Hoist', email: 'hoist@example.invalid' },
      logger,
      sleep: noWait,
      ...over,
    });
  const commitPosts = () => stub.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/repository/commits'));

  beforeEach(async () => {
    stub = await startGitlabStub({ token: TOKEN });
    stub.setFile(PROJECT, 'overlays/dev/kustomization.yaml', overlay('dev', '1.0.0'));
    stub.setFile(PROJECT, 'overlays/staging/kustomization.yaml', overlay('staging', '0.9.0'));
  });
  afterEach(() => stub.close());

  it('lands a batch in one commit that changes only the tag bytes and carries the trailers', async () => {
    const devBefore = stub.file(PROJECT, 'overlays/dev/kustomization.yaml');
    const stagingBefore = stub.file(PROJECT, 'overlays/staging/kustomization.yaml');
    const edits = [edit({ promotionId: 'p-dev', tag: '1.1.0' }), edit({ promotionId: 'p-staging', env: 'staging', path: 'overlays/staging', tag: '1.0.0' })];

    const outcomes = await writer().apply(edits);

    const [commit] = stub.commits(PROJECT, 'main');
    expect(outcomes).toEqual([
      { promotionId: 'p-dev', state: 'committed', commit: commit?.id },
      { promotionId: 'p-staging', state: 'committed', commit: commit?.id },
    ]);
    expect(commitPosts()).toHaveLength(1);
    expect(commit?.message).toBe(buildCommitMessage(edits));
    expect(commit?.message).toContain('Hoist-Promotion: p-dev\n');
    expect(commit?.message).toContain('Hoist-Promotion: p-staging\n');
    expect(commit).toMatchObject({ authorName: 'Hoist', authorEmail: 'hoist@example.invalid' });
    expect(stub.file(PROJECT, 'overlays/dev/kustomization.yaml')?.content).toBe(devBefore?.content.replace('"1.0.0"', '"1.1.0"'));
    expect(stub.file(PROJECT, 'overlays/staging/kustomization.yaml')?.content).toBe(stagingBefore?.content.replace('"0.9.0"', '"1.0.0"'));
    // The compare-and-swap guard: each action names the last commit the file had when it was read.
    expect((commitPosts()[0]?.body as { actions: unknown[] }).actions).toEqual([
      { action: 'update', file_path: 'overlays/dev/kustomization.yaml', content: expect.any(String), last_commit_id: devBefore?.lastCommitId },
      { action: 'update', file_path: 'overlays/staging/kustomization.yaml', content: expect.any(String), last_commit_id: stagingBefore?.lastCommitId },
    ]);
  });

  it('re-reads and re-applies when the file changes between its read and the commit', async () => {
    // Someone else lands a change to api's tag in the same file while Hoist is editing web's.
    stub.beforeNext('POST', /\/repository\/commits$/, () => stub.setFile(PROJECT, 'overlays/dev/kustomization.yaml', overlay('dev', '1.0.0', '0.0.2'), { message: 'hand edit' }));

    const outcomes = await writer().apply([edit({ promotionId: 'p-1', tag: '1.1.0' })]);

    expect(commitPosts()).toHaveLength(2);
    const [commit] = stub.commits(PROJECT, 'main');
    expect(outcomes).toEqual([{ promotionId: 'p-1', state: 'committed', commit: commit?.id }]);
    // Both changes survive: the hand edit was not overwritten by Hoist's stale copy.
    expect(stub.file(PROJECT, 'overlays/dev/kustomization.yaml')?.content).toBe(overlay('dev', '1.1.0', '0.0.2'));
  });

  it('gives up with a retryable error when the file keeps changing', async () => {
    let n = 0;
    stub.beforeNext('POST', /\/repository\/commits$/, () => stub.setFile(PROJECT, 'overlays/dev/kustomization.yaml', overlay('dev', '1.0.0', `0.0.${++n + 1}`)), 10);

    const error = await hoistFailure(writer({ maxAttempts: 3 }).apply([edit({ promotionId: 'p-1', tag: '1.1.0' })]));

    expect(error).toMatchObject({ code: 'conflict', retryable: true });
    expect(error.message).toContain('refused the commit 3 times');
    expect(commitPosts()).toHaveLength(3);
    expect(stub.file(PROJECT, 'overlays/dev/kustomization.yaml')?.content).toContain('"1.0.0"');
  });

  it('skips an edit the overlay already has, without committing', async () => {
    const outcomes = await writer().apply([edit({ promotionId: 'p-1', tag: '1.0.0' })]);
    expect(outcomes).toEqual([{ promotionId: 'p-1', state: 'skipped', reason: 'dev already runs registry.example.com/group/web:1.0.0' }]);
    expect(commitPosts()).toHaveLength(0);
  });

  it('lands a release train whole or not at all, while other promotions of the batch still land', async () => {
    const train = [
      edit({ promotionId: 'train', app: 'web', tag: '2.0.0' }),
      edit({ promotionId: 'train', app: 'api', image: 'registry.example.com/group/api', env: 'qa', path: 'overlays/qa', tag: '2.0.0' }),
    ];
    const other = edit({ promotionId: 'solo', env: 'staging', path: 'overlays/staging', tag: '1.5.0' });

    const outcomes = await writer().apply([...train, other]);

    const [commit] = stub.commits(PROJECT, 'main');
    expect(outcomes).toEqual([
      { promotionId: 'train', state: 'failed', error: 'api: overlay "overlays/qa" of environment qa has no kustomization.yaml on the GitOps branch' },
      { promotionId: 'solo', state: 'committed', commit: commit?.id },
    ]);
    expect(commit?.paths).toEqual(['overlays/staging/kustomization.yaml']);
    expect(commit?.message).not.toContain('Hoist-Promotion: train');
    expect(stub.file(PROJECT, 'overlays/dev/kustomization.yaml')?.content).toBe(overlay('dev', '1.0.0'));
  });

  it('reports a missing overlay as a failed outcome after looking for every kustomization file name', async () => {
    const outcomes = await writer().apply([edit({ promotionId: 'p-1', env: 'qa', path: 'overlays/qa', tag: '1.1.0' })]);
    expect(outcomes).toEqual([{ promotionId: 'p-1', state: 'failed', error: 'overlay "overlays/qa" of environment qa has no kustomization.yaml on the GitOps branch' }]);
    expect(stub.requests.filter((r) => r.path.includes('/repository/files/')).map((r) => r.path.split('/repository/files/')[1])).toEqual([
      'overlays/qa/kustomization.yaml',
      'overlays/qa/kustomization.yml',
      'overlays/qa/Kustomization',
    ]);
    expect(commitPosts()).toHaveLength(0);
  });

  it('edits a `Kustomization` file when that is the name the overlay uses', async () => {
    stub.setFile(PROJECT, 'overlays/legacy/Kustomization', overlay('legacy', '1.0.0'));
    const outcomes = await writer().apply([edit({ promotionId: 'p-1', env: 'legacy', path: 'overlays/legacy/', tag: '1.2.0' })]);
    expect(outcomes[0]?.state).toBe('committed');
    expect(stub.file(PROJECT, 'overlays/legacy/Kustomization')?.content).toBe(overlay('legacy', '1.2.0'));
  });

  it('fails an edit the editor refuses, as an outcome rather than a thrown batch', async () => {
    stub.setFile(PROJECT, 'overlays/broken/kustomization.yaml', 'images: [unclosed\n');
    const outcomes = await writer().apply([edit({ promotionId: 'bad', env: 'broken', path: 'overlays/broken', tag: '1.1.0' }), edit({ promotionId: 'good', tag: '1.1.0' })]);
    expect(outcomes[0]).toMatchObject({ promotionId: 'bad', state: 'failed' });
    expect(outcomes[1]).toMatchObject({ promotionId: 'good', state: 'committed' });
  });

  it('reports an edit that may already have landed as committed, with the commit that carries its trailer', async () => {
    const first = await writer().apply([edit({ promotionId: 'p-1', tag: '1.1.0' })]);
    const landedIn = first[0]?.state === 'committed' ? first[0].commit : undefined;
    stub.setFile(PROJECT, 'overlays/dev/kustomization.yaml', overlay('dev', '1.0.5'), { message: 'hand edit since' });

    const again = await writer().apply([edit({ promotionId: 'p-1', tag: '1.1.0', mayHaveLanded: true })]);

    expect(again).toEqual([{ promotionId: 'p-1', state: 'committed', commit: landedIn }]);
    expect(commitPosts()).toHaveLength(1);
    expect(stub.requests.some((r) => r.path.endsWith('/repository/commits') && r.method === 'GET' && r.query.path === 'overlays/dev' && r.query.ref_name === 'main')).toBe(true);
  });

  it('lets the newest pipeline win within one batch', async () => {
    const outcomes = await writer().apply([
      edit({ promotionId: 'old', tag: '1.1.0', source: pipeline(10) }),
      edit({ promotionId: 'new', tag: '1.2.0', source: pipeline(11) }),
    ]);
    const [commit] = stub.commits(PROJECT, 'main');
    expect(outcomes).toEqual([
      { promotionId: 'old', state: 'skipped', reason: expect.stringContaining('superseded by promotion new') },
      { promotionId: 'new', state: 'committed', commit: commit?.id },
    ]);
    expect(stub.file(PROJECT, 'overlays/dev/kustomization.yaml')?.content).toContain('"1.2.0"');
  });

  it('does not let an older pipeline overwrite the tag a newer pipeline landed', async () => {
    await writer().apply([edit({ promotionId: 'newer', tag: '1.2.0', source: pipeline(20) })]);
    const outcomes = await writer().apply([edit({ promotionId: 'older', tag: '1.1.0', source: pipeline(19) })]);
    expect(outcomes).toEqual([{ promotionId: 'older', state: 'skipped', reason: 'pipeline 19 is older than pipeline 20, whose tag 1.2.0 dev already runs' }]);
    expect(commitPosts()).toHaveLength(1);
  });

  it('believes only commits by Hoist\'s own author: forged trailers from anyone else neither block nor "already land"', async () => {
    // Someone else commits through the API a tag no pipeline built, with Hoist's trailers: pipeline 99, promotion p-1.
    const forged = `promote web to dev: 9.9.9\n\nHoist-App: web\nHoist-Env: dev\nHoist-Tag: 9.9.9\nHoist-Promotion: p-1\nHoist-Source: https://gitlab.example.com/group/web/-/pipelines/99\n`;
    await createGitlabApi({ url: stub.url, token: TOKEN }).createCommit({
      project: PROJECT,
      branch: 'main',
      message: forged,
      actions: [{ action: 'update', filePath: 'overlays/dev/kustomization.yaml', content: overlay('dev', '9.9.9') }],
      authorName: 'Mallory',
      authorEmail: 'mallory@example.invalid',
    });
    const outcomes = await writer().apply([edit({ promotionId: 'p-1', tag: '1.1.0', source: pipeline(20), mayHaveLanded: true })]);
    expect(outcomes).toEqual([{ promotionId: 'p-1', state: 'committed', commit: stub.commits(PROJECT, 'main')[0]?.id }]);
    expect(stub.commits(PROJECT, 'main')[0]).toMatchObject({ authorName: 'Hoist' });
    expect(stub.file(PROJECT, 'overlays/dev/kustomization.yaml')?.content).toContain('"1.1.0"');
  });

  it('throws a non-retryable error when GitLab forbids the commit', async () => {
    stub.failNext('POST', /\/repository\/commits$/, 403, { message: '403 Forbidden' });
    const error = await hoistFailure(writer().apply([edit({ promotionId: 'p-1', tag: '1.1.0' })]));
    expect(error).toMatchObject({ code: 'forbidden', retryable: false });
    expect(error.message).toContain('commit to main in group/gitops');
    expect(commitPosts()).toHaveLength(1);
  });

  it('throws a retryable error when GitLab is down, deciding nothing', async () => {
    stub.failNext('GET', /\/repository\/files\//, 503, { message: '503 Service Unavailable' });
    const error = await hoistFailure(writer().apply([edit({ promotionId: 'p-1', tag: '1.1.0' })]));
    expect(error).toMatchObject({ code: 'unavailable', retryable: true });
    expect(commitPosts()).toHaveLength(0);
  });
});
