import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { signStandardWebhook } from '../../src/gitlab/signing.js';
import { startArgoCdStub, type ArgoCdStub } from '../helpers/argocd-stub.js';
import { createSyntheticGitops, git, PROJECT_ROOT, TEST_GIT_ENV, type TempGitops } from '../helpers/git-repos.js';
import { startGitlabStub, type GitlabStub } from '../helpers/gitlab-stub.js';
import { API_TOKEN, pipelineEvent, startTestHoist, type TestHoist, waitFor, WEBHOOK_SECRET, webhookRequest } from '../helpers/hoist.js';

const ARGO_WEBHOOK_TOKEN = 'argo-notifications-token';
const GITLAB_TOKEN = 'glpat-hoist-test';
const SIGNING_TOKEN = `whsec_${Buffer.from('a signing key of thirty-two bytes!').toString('base64')}`;

type View = Record<string, unknown> & { id: string; state: string; commit?: string; mergeRequest?: { iid: number; url: string; branch: string } };

function config(opts: { gitops: string; argocd: string; argoToken: string; gitlab: string; dev?: string; staging?: string; prod?: string; gitlabExtra?: string }): string {
  return `gitops: { url: "${opts.gitops}", branch: main, project: group/gitops }
gitlab: { webhookSecret: ${WEBHOOK_SECRET}, url: "${opts.gitlab}", token: ${GITLAB_TOKEN}${opts.gitlabExtra ?? ''} }
api: { token: ${API_TOKEN}, trustUserHeader: true }
argocd: { url: "${opts.argocd}", token: ${opts.argoToken}, applications: "{{app}}-{{env}}", webhookToken: ${ARGO_WEBHOOK_TOKEN} }
environments:
  - { name: dev, path: overlays/dev, promotion: auto${opts.dev ?? ''} }
  - { name: staging, path: overlays/staging, from: dev, promotion: gated, gates: { healthy: true }${opts.staging ?? ''} }
  - { name: prod, path: overlays/prod, from: staging, promotion: manual${opts.prod ?? ''} }
apps:
  - { name: web, project: group/web, image: registry.example.com/group/web, tag: "v$CI_PIPELINE_ID" }
queue: { gateInterval: 200ms }
`;
}

describe('Argo CD and GitLab, both ways', () => {
  let gitops: TempGitops;
  let argo: ArgoCdStub;
  let gitlab: GitlabStub;
  let hoist: TestHoist | undefined;

  const headers = (user = 'alice') => ({ Authorization: `Bearer ${API_TOKEN}`, 'X-Hoist-User': user, 'Content-Type': 'application/json' });
  const view = async (id: string) => (await (await hoist!.app.request(`/api/promotions/${id}`, { headers: headers() })).json()) as View;
  const until = (id: string, states: readonly string[], timeoutMs = 20_000) =>
    waitFor(async () => {
      const v = await view(id);
      return states.includes(v.state) ? v : undefined;
    }, `promotion ${id} to reach ${states.join('/')}`, timeoutMs);
  const tagIn = async (env: string) => /newTag: "([^"]+)"/.exec(await git(gitops.bare, 'show', `main:overlays/${env}/kustomization.yaml`))?.[1];
  const headOf = (ref = 'main') => execFileSync('git', ['rev-parse', ref], { cwd: gitops.bare, env: TEST_GIT_ENV }).toString().trim();
  const sha = () => randomUUID().replace(/-/g, '').padEnd(40, '0');

  const pipeline = async (id: number, commitSha = sha(), extraHeaders: Record<string, string> = {}) => {
    const res = await hoist!.app.request('/webhooks/gitlab', webhookRequest(await pipelineEvent({ project: 'group/web', id, sha: commitSha }), extraHeaders));
    expect(res.status).toBe(202);
    return ((await res.json()) as { promotions: Array<{ id: string; env: string }> }).promotions.find((p) => p.env === 'dev')!.id;
  };
  const notify = (body: unknown, token = ARGO_WEBHOOK_TOKEN) =>
    hoist!.app.request('/webhooks/argocd', { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  const gatedIn = (env: string, tag: string) =>
    waitFor(async () => {
      const list = (await (await hoist!.app.request(`/api/promotions?env=${env}`, { headers: headers() })).json()) as { promotions: View[] };
      return list.promotions.find((p) => p.tag === tag && p.gates);
    }, `a gated promotion of ${tag} in ${env}`);

  beforeEach(async () => {
    gitops = await createSyntheticGitops(['web']);
    argo = await startArgoCdStub();
    gitlab = await startGitlabStub({ token: GITLAB_TOKEN });
    gitlab.addProject('group/web');
    gitlab.addProject('group/gitops');
  });
  afterEach(async () => {
    await hoist?.close();
    hoist = undefined;
    await argo.close();
    await gitlab.close();
    await gitops.cleanup();
  });

  it('refreshes Argo CD after a dev commit, opens staging from the Argo CD API, and reports a commit status per environment', async () => {
    hoist = await startTestHoist(config({ gitops: gitops.url, argocd: argo.url, argoToken: argo.token, gitlab: gitlab.url }));
    // Argo CD "sees" whatever is on the branch when asked to refresh, and reports it Synced and Healthy.
    argo.onRefresh((name) => argo.setApplication(name, { revision: headOf(), sync: 'Synced', health: 'Healthy', phase: 'Succeeded' }));
    argo.setApplication('web-dev', { revision: headOf(), sync: 'OutOfSync', health: 'Progressing', phase: 'Running' });
    argo.setApplication('web-staging', { revision: headOf(), sync: 'Synced', health: 'Healthy', phase: 'Succeeded' });
    const source = sha();
    const dev = await until(await pipeline(101, source), ['committed']);
    expect(await tagIn('dev')).toBe('v101');

    const refresh = await waitFor(async () => argo.requests.find((r) => r.path === '/api/v1/applications/web-dev' && r.query.refresh === 'normal'), 'the refresh of web-dev');
    expect(refresh.method).toBe('GET');
    expect(refresh.rawUrl).toBe('/api/v1/applications/web-dev?refresh=normal');
    expect(refresh.headers.authorization).toBe(`Bearer ${argo.token}`);

    // staging's healthy gate asks Argo CD about dev and lands without any deploy report.
    await waitFor(async () => ((await tagIn('staging')) === 'v101' ? true : undefined), 'v101 in staging');
    const history = (await (await hoist.app.request('/api/history?env=staging', { headers: headers() })).json()) as { entries: Array<{ promotion: string; kind: string }> };
    expect(history.entries[0]?.kind).toBe('gated');
    const landed = await until(history.entries[0]!.promotion, ['committed']);
    expect(landed.gates).toEqual(expect.arrayContaining([expect.objectContaining({ gate: 'healthy', status: 'passed' })]));
    await waitFor(async () => argo.requests.find((r) => r.path === '/api/v1/applications/web-staging' && r.query.refresh === 'normal'), 'the refresh of web-staging');

    // GitLab: one status context per environment on the built commit, ending in success with the GitOps commit.
    const final = (env: string) =>
      waitFor(async () => gitlab.statuses('group/web', source).filter((s) => s.name === `hoist/${env}`).at(-1)?.state === 'success' ? gitlab.statuses('group/web', source).filter((s) => s.name === `hoist/${env}`) : undefined, `success for hoist/${env}`);
    const devStatuses = await final('dev');
    expect(devStatuses[0]?.state).toBe('pending');
    expect(devStatuses.at(-1)?.description).toContain(dev.commit!.slice(0, 12));
    expect(devStatuses.at(-1)?.targetUrl).toBe(`${gitlab.url}/group/gitops/-/commit/${dev.commit}`);
    const stagingStatuses = await final('staging');
    expect(stagingStatuses.map((s) => s.state)).toContain('pending');
    expect(stagingStatuses.at(-1)?.description).toContain(landed.commit!.slice(0, 12));
    const post = gitlab.requests.find((r) => r.method === 'POST' && r.path.endsWith(`/statuses/${source}`));
    expect(post?.headers['private-token']).toBe(GITLAB_TOKEN);
    expect(post?.rawPath).toBe(`/api/v4/projects/group%2Fweb/statuses/${source}`);
  });

  it('opens staging from an Argo CD notification when the API has no verdict yet, and checks the notification token', async () => {
    hoist = await startTestHoist(config({ gitops: gitops.url, argocd: argo.url, argoToken: argo.token, gitlab: gitlab.url }));
    argo.setApplication('web-dev', { revision: headOf(), sync: 'OutOfSync', health: 'Progressing', phase: 'Running' });
    const dev = await until(await pipeline(201), ['committed']);
    const staging = await gatedIn('staging', 'v201');
    expect(staging.state).toBe('waiting');

    const body = { trigger: 'on-deployed', application: 'web-dev', revision: dev.commit, sync: 'Synced', health: 'Healthy', phase: 'Succeeded' };
    expect((await notify(body, 'wrong')).status).toBe(401);
    expect((await notify({ trigger: 'on-deployed' })).status).toBe(400);
    const res = await notify(body);
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({ application: 'web-dev', observed: [{ env: 'dev', app: 'web', tag: 'v201', verdict: 'deployed' }] });
    await until(staging.id, ['committed']);
    expect(await tagIn('staging')).toBe('v201');
    expect(await view(dev.id)).toMatchObject({ state: 'committed', health: 'healthy' });
  });

  it('rolls a degraded dev deploy back with autoRollback, as a new commit, and says so', async () => {
    hoist = await startTestHoist(config({ gitops: gitops.url, argocd: argo.url, argoToken: argo.token, gitlab: gitlab.url, dev: ', autoRollback: true' }));
    // v302 never becomes healthy; everything else does.
    argo.onRefresh((name) => {
      const head = headOf();
      const bad = execFileSync('git', ['show', `${head}:overlays/dev/kustomization.yaml`], { cwd: gitops.bare, env: TEST_GIT_ENV }).toString().includes('"v302"');
      argo.setApplication(name, bad ? { revision: head, sync: 'Synced', health: 'Degraded', phase: 'Succeeded', healthMessage: 'Deployment "web" exceeded its progress deadline' } : { revision: head, sync: 'Synced', health: 'Healthy', phase: 'Succeeded' });
    });
    const good = await until(await pipeline(301), ['committed']);
    await waitFor(async () => ((await view(good.id)).health === 'healthy' ? true : undefined), 'v301 healthy in dev');
    const source = sha();
    const bad = await until(await pipeline(302, source), ['committed', 'degraded']);

    const degraded = await waitFor(async () => {
      const v = await view(bad.id);
      return v.state === 'degraded' && v.rolledBackBy ? v : undefined;
    }, 'the degraded promotion to be rolled back');
    expect(degraded).toMatchObject({ health: 'degraded', commit: bad.commit, rolledBackBy: expect.stringMatching(/^p-/) });
    expect(degraded.reason).toMatch(/Degraded.*rolled back automatically to v301 by promotion p-/);
    const rollback = await until(degraded.rolledBackBy as string, ['committed']);
    expect(rollback).toMatchObject({ kind: 'rollback', tag: 'v301', env: 'dev' });
    expect(await tagIn('dev')).toBe('v301');
    // History is not rewritten: the bad commit is still there and the rollback is a new one on top of it.
    const log = await git(gitops.bare, 'log', '--format=%H %s', 'main');
    expect(log).toContain(bad.commit!);
    // Exactly one commit to dev after the bad one: the rollback (counted from the bad commit, which the rollback may already follow).
    expect((await git(gitops.bare, 'rev-list', '--count', `${bad.commit}..main`, '--', 'overlays/dev')).trim()).toBe('1');
    expect(await git(gitops.bare, 'log', '-1', '--format=%B', 'main', '--', 'overlays/dev')).toMatch(/Hoist-Kind: rollback[\s\S]*Hoist-Requested-By: hoist \(autoRollback\)/);
    await waitFor(async () => (gitlab.statuses('group/web', source).filter((s) => s.name === 'hoist/dev').at(-1)?.state === 'failed' ? true : undefined), 'a failed status for the degraded version');
  });

  it('takes a Degraded notification too, and never rolls back without autoRollback', async () => {
    hoist = await startTestHoist(config({ gitops: gitops.url, argocd: argo.url, argoToken: argo.token, gitlab: gitlab.url }));
    argo.setApplication('web-dev', { revision: headOf(), sync: 'OutOfSync', health: 'Progressing', phase: 'Running' });
    const good = await until(await pipeline(401), ['committed']);
    const res = await notify({ trigger: 'on-health-degraded', application: 'web-dev', revision: good.commit, sync: 'Synced', health: 'Degraded', phase: 'Succeeded' });
    expect(res.status).toBe(202);
    const degraded = await until(good.id, ['degraded']);
    expect(degraded.rolledBackBy).toBeUndefined();
    expect(await tagIn('dev')).toBe('v401');
    // A notification about an Application that maps to no environment is answered, and ignored.
    const other = await notify({ trigger: 'on-deployed', application: 'billing-dev', revision: good.commit });
    expect(other.status).toBe(200);
  });

  it('rolls back on a degraded deploy report (POST /webhooks/deployments) too', async () => {
    hoist = await startTestHoist(
      config({ gitops: gitops.url, argocd: argo.url, argoToken: argo.token, gitlab: gitlab.url, dev: ', autoRollback: true' }) + 'deployments: { token: deploy-token }\n',
    );
    await until(await pipeline(901), ['committed']);
    const bad = await until(await pipeline(902), ['committed']);
    const res = await hoist.app.request('/webhooks/deployments', {
      method: 'POST',
      headers: { Authorization: 'Bearer deploy-token', 'Content-Type': 'application/json' },
      body: JSON.stringify({ environment: 'dev', app: 'web', tag: 'v902', status: 'degraded' }),
    });
    expect(res.status).toBe(202);
    const degraded = await waitFor(async () => {
      const v = await view(bad.id);
      return v.rolledBackBy ? v : undefined;
    }, 'the rollback of v902');
    expect(degraded).toMatchObject({ state: 'degraded', health: 'degraded' });
    await until(degraded.rolledBackBy as string, ['committed']);
    expect(await tagIn('dev')).toBe('v901');
  });

  it('promotes prod through one merge request with the rendered diff, updates it on a re-run, and completes when it is merged', async () => {
    hoist = await startTestHoist(config({ gitops: gitops.url, argocd: argo.url, argoToken: argo.token, gitlab: gitlab.url, prod: ', write: merge-request' }));
    argo.onRefresh((name) => argo.setApplication(name, { revision: headOf(), sync: 'Synced', health: 'Healthy', phase: 'Succeeded' }));
    await until(await pipeline(501), ['committed']);
    await waitFor(async () => ((await tagIn('staging')) === 'v501' ? true : undefined), 'v501 in staging');

    const ask = async () => {
      const res = await hoist!.app.request('/api/promotions', { method: 'POST', headers: headers(), body: JSON.stringify({ app: 'web', to: 'prod' }) });
      expect(res.status).toBe(202);
      return until(((await res.json()) as View).id, ['awaiting-merge']);
    };
    const first = await ask();
    expect(first.mergeRequest).toMatchObject({ branch: 'hoist/prod/web-v501', url: expect.stringContaining('merge_requests') });
    expect(await tagIn('prod')).not.toBe('v501');
    expect(await git(gitops.bare, 'show', 'hoist/prod/web-v501:overlays/prod/kustomization.yaml')).toContain('newTag: "v501"');
    const [mr] = gitlab.mergeRequests('group/gitops');
    expect(mr).toMatchObject({ sourceBranch: 'hoist/prod/web-v501', targetBranch: 'main', state: 'opened', title: 'promote web to prod: v501' });
    expect(mr!.description).toMatch(/```diff\n--- overlays\/prod \(before\)\n\+\+\+ overlays\/prod \(after\)\n[\s\S]*\n-\s+- image: registry\.example\.com\/group\/web:0\.0\.0\n\+\s+- image: registry\.example\.com\/group\/web:v501\n/);

    // The same promotion again: the same merge request, updated; the older record gives way.
    const second = await ask();
    expect(gitlab.mergeRequests('group/gitops')).toHaveLength(1);
    expect(second.mergeRequest?.iid).toBe(first.mergeRequest?.iid);
    expect(gitlab.requests.filter((r) => r.method === 'PUT' && /merge_requests\/\d+$/.test(r.path))).toHaveLength(1);
    expect((await until(first.id, ['superseded'])).reason).toContain(second.id);

    // A person merges it in GitLab; the Merge Request Hook completes the promotion with the merge commit.
    const work = await gitops.clone('merger');
    await git(work, 'merge', '--no-ff', '-m', 'Merge branch hoist/prod/web-v501', 'origin/hoist/prod/web-v501');
    await git(work, 'push', '--quiet', 'origin', 'HEAD:main');
    const mergeSha = (await git(work, 'rev-parse', 'HEAD')).trim();
    gitlab.mergeMergeRequest('group/gitops', mr!.iid, mergeSha);
    const sample = JSON.parse(await readFile(join(PROJECT_ROOT, 'test/fixtures/gitlab/merge-request-event.json'), 'utf8')) as Record<string, Record<string, unknown>>;
    const hook = {
      ...sample,
      project: { ...sample.project, path_with_namespace: 'group/gitops' },
      object_attributes: { ...sample.object_attributes, iid: mr!.iid, state: 'merged', action: 'merge', source_branch: 'hoist/prod/web-v501', target_branch: 'main', merge_commit_sha: mergeSha },
    };
    const res = await hoist.app.request('/webhooks/gitlab', webhookRequest(hook, { 'X-Gitlab-Event': 'Merge Request Hook' }));
    expect(await res.json()).toMatchObject({ promotionId: second.id, state: 'committed' });
    expect(res.status).toBe(202);
    const done = await until(second.id, ['committed']);
    expect(done.commit).toBe(mergeSha);
    expect(await tagIn('prod')).toBe('v501');
    await waitFor(async () => argo.requests.find((r) => r.path === '/api/v1/applications/web-prod' && r.query.refresh === 'normal'), 'the refresh of web-prod after the merge');
  });

  it('completes a merge-request promotion by polling GitLab when no hook arrives, and cancels a closed one', async () => {
    hoist = await startTestHoist(config({ gitops: gitops.url, argocd: argo.url, argoToken: argo.token, gitlab: gitlab.url, dev: ', write: merge-request' }));
    const first = await until(await pipeline(601), ['awaiting-merge']);
    const [mr] = gitlab.mergeRequests('group/gitops');
    const work = await gitops.clone('merger');
    await git(work, 'merge', '--ff-only', `origin/${first.mergeRequest!.branch}`);
    await git(work, 'push', '--quiet', 'origin', 'HEAD:main');
    const head = (await git(work, 'rev-parse', 'HEAD')).trim();
    gitlab.mergeMergeRequest('group/gitops', mr!.iid, head);
    expect((await until(first.id, ['committed'])).commit).toBe(head);
    expect(gitlab.requests.some((r) => r.method === 'GET' && r.path === `/api/v4/projects/group/gitops/merge_requests/${mr!.iid}`)).toBe(true);

    const second = await until(await pipeline(602), ['awaiting-merge']);
    gitlab.closeMergeRequest('group/gitops', second.mergeRequest!.iid);
    expect((await until(second.id, ['cancelled'])).reason).toMatch(/closed without merging/);

    // Cancelled in Hoist: its merge request is closed in GitLab, so it cannot land unnoticed.
    const third = await until(await pipeline(603), ['awaiting-merge']);
    const cancel = await hoist.app.request(`/api/promotions/${third.id}/cancel`, { method: 'POST', headers: headers() });
    expect(cancel.status).toBe(200);
    await waitFor(async () => (gitlab.mergeRequests('group/gitops').find((m) => m.iid === third.mergeRequest!.iid)?.state === 'closed' ? true : undefined), 'the merge request to be closed');
  });

  it('commits through the GitLab Commits API with write: api', async () => {
    hoist = await startTestHoist(config({ gitops: gitops.url, argocd: argo.url, argoToken: argo.token, gitlab: gitlab.url, dev: ', write: api' }));
    const overlay = await git(gitops.bare, 'show', 'main:overlays/dev/kustomization.yaml');
    gitlab.setFile('group/gitops', 'overlays/dev/kustomization.yaml', overlay);
    const done = await until(await pipeline(701), ['committed']);
    const [commit] = gitlab.commits('group/gitops', 'main');
    expect(done.commit).toBe(commit!.id);
    expect(commit!.message).toMatch(/Hoist-App: web\nHoist-Env: dev\nHoist-Tag: v701/);
    expect(gitlab.file('group/gitops', 'overlays/dev/kustomization.yaml')?.content).toBe(overlay.replace(/newTag: "[^"]+"/, 'newTag: "v701"'));
  });

  it('accepts signed webhooks (Standard Webhooks) and refuses bad signatures and stale timestamps', async () => {
    hoist = await startTestHoist(config({ gitops: gitops.url, argocd: argo.url, argoToken: argo.token, gitlab: gitlab.url, gitlabExtra: `, signingToken: "${SIGNING_TOKEN}"` }));
    const body = JSON.stringify(await pipelineEvent({ project: 'group/web', id: 801 }));
    const signed = (timestamp: number, secret = SIGNING_TOKEN, payload = body) => {
      const id = `msg_${randomUUID()}`;
      return {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          'X-Gitlab-Event': 'Pipeline Hook',
          'webhook-id': id,
          'webhook-timestamp': String(timestamp),
          'webhook-signature': signStandardWebhook(secret, id, timestamp, payload),
        },
        body,
      };
    };
    const now = Math.floor(Date.now() / 1000);
    expect((await hoist.app.request('/webhooks/gitlab', signed(now))).status).toBe(202);
    const wrongKey = await hoist.app.request('/webhooks/gitlab', signed(now, `whsec_${Buffer.from('another key entirely, 32 bytes!!').toString('base64')}`));
    expect(wrongKey.status).toBe(401);
    expect(((await wrongKey.json()) as { error: string }).error).toMatch(/signed webhook rejected/);
    expect((await hoist.app.request('/webhooks/gitlab', signed(now - 600))).status).toBe(401);
    expect((await hoist.app.request('/webhooks/gitlab', signed(now, SIGNING_TOKEN, body.replace('801', '802')))).status).toBe(401);
    // X-Gitlab-Token still works alongside.
    expect((await hoist.app.request('/webhooks/gitlab', webhookRequest(await pipelineEvent({ project: 'group/web', id: 803 })))).status).toBe(202);
  });
});
