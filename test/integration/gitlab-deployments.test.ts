import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startArgoCdStub, type ArgoCdStub } from '../helpers/argocd-stub.js';
import { createSyntheticGitops, TEST_GIT_ENV, type TempGitops } from '../helpers/git-repos.js';
import { startGitlabStub, type GitlabStub, type StubDeployment } from '../helpers/gitlab-stub.js';
import { API_TOKEN, pipelineEvent, startTestHoist, type TestHoist, waitFor, webhookRequest, WEBHOOK_SECRET } from '../helpers/hoist.js';

const GITLAB_TOKEN = 'glpat-hoist-deployments';
const ARGO_WEBHOOK_TOKEN = 'argo-notifications-token';

type View = { id: string; state: string; commit?: string; health?: string; rolledBackBy?: string; tag: string };

function config(opts: { gitops: string; argocd: string; argoToken: string; gitlab: string; dev?: string }): string {
  return `gitops: { url: "${opts.gitops}", branch: main, project: group/gitops }
gitlab:
  webhookSecret: ${WEBHOOK_SECRET}
  url: "${opts.gitlab}"
  token: ${GITLAB_TOKEN}
  environments:
    dev: { name: development, externalUrl: "https://dev.example.com" }
api: { token: ${API_TOKEN}, trustUserHeader: true }
argocd: { url: "${opts.argocd}", token: ${opts.argoToken}, applications: "{{app}}-{{env}}", webhookToken: ${ARGO_WEBHOOK_TOKEN} }
environments:
  - { name: dev, path: overlays/dev, promotion: auto${opts.dev ?? ''} }
  - { name: prod, path: overlays/prod, from: dev, promotion: manual }
apps:
  - { name: web, project: group/web, image: registry.example.com/group/web, tag: "v$CI_PIPELINE_ID" }
queue: { gateInterval: 200ms }
`;
}

describe('GitLab deployments and environments in the source project', () => {
  let gitops: TempGitops;
  let argo: ArgoCdStub;
  let gitlab: GitlabStub;
  let hoist: TestHoist | undefined;

  const headers = { Authorization: `Bearer ${API_TOKEN}`, 'X-Hoist-User': 'alice' };
  const view = async (id: string) => (await (await hoist!.app.request(`/api/promotions/${id}`, { headers })).json()) as View;
  const until = (id: string, check: (v: View) => boolean, what: string) =>
    waitFor(async () => {
      const v = await view(id);
      return check(v) ? v : undefined;
    }, what);
  const headOf = () => execFileSync('git', ['rev-parse', 'main'], { cwd: gitops.bare, env: TEST_GIT_ENV }).toString().trim();
  const sha = () => randomUUID().replace(/-/g, '').padEnd(40, '0');
  const pipeline = async (id: number, commitSha: string) => {
    const res = await hoist!.app.request('/webhooks/gitlab', webhookRequest(await pipelineEvent({ project: 'group/web', id, sha: commitSha })));
    expect(res.status).toBe(202);
    return ((await res.json()) as { promotions: Array<{ id: string }> }).promotions[0]!.id;
  };
  const notify = async (revision: string, health: 'Healthy' | 'Degraded') => {
    const res = await hoist!.app.request('/webhooks/argocd', {
      method: 'POST',
      headers: { Authorization: `Bearer ${ARGO_WEBHOOK_TOKEN}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ trigger: health === 'Healthy' ? 'on-deployed' : 'on-health-degraded', application: 'web-dev', revision, sync: 'Synced', health, phase: 'Succeeded' }),
    });
    expect(res.status).toBe(202);
  };
  /** The deployment of `sha` once its status history is exactly `history`. */
  const deployment = (commitSha: string, history: readonly string[]) =>
    waitFor(async () => gitlab.deployments('group/web').find((d) => d.sha === commitSha && JSON.stringify(d.history) === JSON.stringify(history)), `the deployment of ${commitSha.slice(0, 8)} to go ${history.join(' → ')}`);
  /** GitLab's environments and deployments API calls, in order, as method, path and body. */
  const calls = () =>
    gitlab.requests
      .filter((r) => /\/(environments|deployments)(\/|$)/.test(r.path))
      .map((r): { method: string; path: string; name?: string | undefined; body?: unknown } => ({ method: r.method, path: r.path, ...(r.method === 'GET' ? { name: r.query.name } : { body: r.body }) }));

  beforeEach(async () => {
    gitops = await createSyntheticGitops(['web']);
    argo = await startArgoCdStub();
    gitlab = await startGitlabStub({ token: GITLAB_TOKEN });
    gitlab.addProject('group/web');
    gitlab.addProject('group/gitops');
    // Argo CD never decides by itself here: the tests send its notifications, so each status change comes in turn.
    argo.onRefresh((name) => argo.setApplication(name, { revision: headOf(), sync: 'OutOfSync', health: 'Progressing', phase: 'Running' }));
    argo.setApplication('web-dev', { revision: headOf(), sync: 'OutOfSync', health: 'Progressing', phase: 'Running' });
  });
  afterEach(async () => {
    await hoist?.close();
    hoist = undefined;
    await argo.close();
    await gitlab.close();
    await gitops.cleanup();
  });

  it('records a promotion that becomes healthy as running, then success, after creating its environment with its tier', async () => {
    hoist = await startTestHoist(config({ gitops: gitops.url, argocd: argo.url, argoToken: argo.token, gitlab: gitlab.url }));
    const source = sha();
    // GitLab is down for the first deployment call: the promotion lands all the same, the deployment catches up.
    gitlab.failNext('POST', /\/deployments$/, 503);
    const dev = await until(await pipeline(101, source), (v) => v.state === 'committed', 'v101 in dev');
    await deployment(source, ['running']);
    await notify(dev.commit!, 'Healthy');
    const done = await deployment(source, ['running', 'success']);

    expect(done).toMatchObject({ environment: 'development', ref: 'main', tag: false, status: 'success' } satisfies Partial<StubDeployment>);
    expect(gitlab.environments('group/web')).toEqual([{ id: 1, name: 'development', tier: 'development', externalUrl: 'https://dev.example.com' }]);
    const create = { environment: 'development', sha: source, ref: 'main', tag: false, status: 'running' };
    expect(calls()).toEqual([
      { method: 'GET', path: '/api/v4/projects/group/web/environments', name: 'development' },
      { method: 'POST', path: '/api/v4/projects/group/web/environments', body: { name: 'development', tier: 'development', external_url: 'https://dev.example.com' } },
      { method: 'POST', path: '/api/v4/projects/group/web/deployments', body: create },
      // The retry after the 503.
      { method: 'POST', path: '/api/v4/projects/group/web/deployments', body: create },
      { method: 'PUT', path: `/api/v4/projects/group/web/deployments/${done.id}`, body: { status: 'success' } },
    ]);
    const put = gitlab.requests.find((r) => r.method === 'PUT');
    expect(put?.headers['private-token']).toBe(GITLAB_TOKEN);
  });

  it('marks a degraded promotion failed and records its rollback as a deployment of the older commit', async () => {
    hoist = await startTestHoist(config({ gitops: gitops.url, argocd: argo.url, argoToken: argo.token, gitlab: gitlab.url, dev: ', autoRollback: true' }));
    const good = sha();
    const bad = sha();
    const first = await until(await pipeline(301, good), (v) => v.state === 'committed', 'v301 in dev');
    await deployment(good, ['running']);
    await notify(first.commit!, 'Healthy');
    await deployment(good, ['running', 'success']);

    const second = await until(await pipeline(302, bad), (v) => v.state === 'committed', 'v302 in dev');
    await deployment(bad, ['running']);
    await notify(second.commit!, 'Degraded');
    await deployment(bad, ['running', 'failed']);
    const degraded = await until(second.id, (v) => v.rolledBackBy !== undefined, 'the rollback of v302');
    const rollback = await until(degraded.rolledBackBy!, (v) => v.state === 'committed', 'the rollback to land');
    expect(rollback.tag).toBe('v301');
    // The rollback deploys the commit that built v301 again: a deployment of its own.
    await waitFor(async () => (gitlab.deployments('group/web').filter((d) => d.sha === good).length === 2 ? true : undefined), 'the rollback deployment');
    await notify(rollback.commit!, 'Healthy');
    await waitFor(async () => (gitlab.deployments('group/web').at(-1)?.status === 'success' ? true : undefined), 'the rollback deployment to succeed');

    expect(gitlab.deployments('group/web').map((d) => ({ sha: d.sha, history: d.history }))).toEqual([
      { sha: good, history: ['running', 'success'] },
      { sha: bad, history: ['running', 'failed'] },
      { sha: good, history: ['running', 'success'] },
    ]);
    // The environment is looked up and created once; each deployment is created running and then moved, once.
    expect(calls().filter((c) => c.path.endsWith('/environments'))).toHaveLength(2);
    const [d1, d2, d3] = gitlab.deployments('group/web');
    const puts = calls().filter((c) => c.method === 'PUT');
    expect(puts.map((c) => [c.path.replace(/.*\/deployments\//, ''), c.body])).toEqual([
      [String(d1!.id), { status: 'success' }],
      [String(d2!.id), { status: 'failed' }],
      [String(d3!.id), { status: 'success' }],
    ]);
    expect(calls().filter((c) => c.method === 'POST' && c.path.endsWith('/deployments')).map((c) => c.body)).toEqual([
      { environment: 'development', sha: good, ref: 'main', tag: false, status: 'running' },
      { environment: 'development', sha: bad, ref: 'main', tag: false, status: 'running' },
      { environment: 'development', sha: good, ref: 'main', tag: false, status: 'running' },
    ]);
  });

  it('cancels the deployment of a promotion a newer one replaced before it got healthy', async () => {
    hoist = await startTestHoist(config({ gitops: gitops.url, argocd: argo.url, argoToken: argo.token, gitlab: gitlab.url }));
    const older = sha();
    const newer = sha();
    await until(await pipeline(401, older), (v) => v.state === 'committed', 'v401 in dev');
    await deployment(older, ['running']);
    const replacing = await until(await pipeline(402, newer), (v) => v.state === 'committed', 'v402 in dev');
    await deployment(older, ['running', 'canceled']);
    await deployment(newer, ['running']);
    // And the newer one goes on as usual.
    await notify(replacing.commit!, 'Healthy');
    await deployment(newer, ['running', 'success']);
    expect(gitlab.deployments('group/web').map((d) => d.history)).toEqual([
      ['running', 'canceled'],
      ['running', 'success'],
    ]);
  });
});
