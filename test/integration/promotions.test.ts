import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSyntheticGitops, git, type TempGitops } from '../helpers/git-repos.js';
import { API_TOKEN, pipelineEvent, settled, startTestHoist, type TestHoist, waitFor, WEBHOOK_SECRET, webhookRequest } from '../helpers/hoist.js';

const DEPLOY_TOKEN = 'test-deploy-token';

function chainConfig(url: string, stagingGates = 'soak: 10m, healthy: true', extra = ''): string {
  return `gitops: { url: "${url}", branch: main }
gitlab: { webhookSecret: ${WEBHOOK_SECRET} }
api: { token: ${API_TOKEN}, trustUserHeader: true }
deployments: { token: ${DEPLOY_TOKEN} }
environments:
  - { name: dev, path: overlays/dev, promotion: auto }
  - name: staging
    path: overlays/staging
    from: dev
    promotion: gated
    gates: { ${stagingGates} }
  - name: prod
    path: overlays/prod
    from: staging
    promotion: manual
    approvals: { required: 2, approvers: [alice, bob, carol, "group:release-managers"], allowSelfApproval: false }
    pending: supersede
rbac:
  promote: { prod: [alice, bob, "group:release-managers"], "*": ["*"] }
  groups: { release-managers: [carol, dave] }
apps:
  - { name: web, project: group/web, image: registry.example.com/group/web, tag: "v$CI_PIPELINE_ID" }
  - { name: api, project: group/api, image: registry.example.com/group/api, tag: "v$CI_PIPELINE_ID" }
  - { name: ghost, project: group/ghost, image: registry.example.com/group/ghost, tag: "v$CI_PIPELINE_ID" }
queue: { gateInterval: 200ms }
${extra}`;
}

type View = Record<string, unknown> & { id: string; state: string };

describe('promotions up the chain', () => {
  let gitops: TempGitops;
  let hoist: TestHoist;
  let offsetMs = 0;
  const clock = () => new Date(Date.now() + offsetMs);

  const as = (user: string) => ({ Authorization: `Bearer ${API_TOKEN}`, 'X-Hoist-User': user, 'Content-Type': 'application/json' });
  const post = async (path: string, user: string, body?: unknown) => {
    const res = await hoist.app.request(path, { method: 'POST', headers: as(user), ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    return { status: res.status, body: (await res.json()) as View & { error?: string } };
  };
  const get = async (path: string) => (await (await hoist.app.request(path, { headers: as('reader') })).json()) as Record<string, unknown>;
  const tagIn = async (env: string, app = 'web') =>
    new RegExp(`name: registry.example.com/group/${app}\\n    newTag: "([^"]+)"`).exec(await git(gitops.bare, 'show', `main:overlays/${env}/kustomization.yaml`))?.[1];
  const pipeline = async (app: string, id: number) => {
    const res = await hoist.app.request('/webhooks/gitlab', webhookRequest(await pipelineEvent({ project: `group/${app}`, id, sha: randomUUID().replace(/-/g, '').padEnd(40, '0') })));
    expect(res.status).toBe(202);
    return settled(hoist, ((await res.json()) as { promotions: Array<{ id: string }> }).promotions[0]!.id);
  };
  const waitingIn = (env: string, app = 'web') =>
    // Listed once its first gate check has run, so it shows each gate's status.
    waitFor(async () => ((await get(`/api/promotions?env=${env}`)).promotions as View[]).find((p) => p.app === app && p.state === 'waiting' && p.gates), `a waiting promotion of ${app} in ${env}`);
  const report = (environment: string, app: string, tag: string, status = 'deployed', token = DEPLOY_TOKEN) =>
    hoist.app.request('/webhooks/deployments', { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ environment, app, tag, status }) });

  beforeEach(async () => {
    offsetMs = 0;
    gitops = await createSyntheticGitops(['web', 'api']);
  });
  afterEach(async () => {
    await hoist.close();
    await gitops.cleanup();
  });

  it('travels dev → staging (soak + health) → prod (two approvals), rolls back, and shows every step in the history', async () => {
    hoist = await startTestHoist(chainConfig(gitops.url), { now: clock });
    expect((await pipeline('web', 101)).state).toBe('committed');
    expect(await tagIn('dev')).toBe('v101');

    const waiting = await waitingIn('staging');
    expect(waiting).toMatchObject({ kind: 'gated', tag: 'v101', gates: [
      { gate: 'soak', status: 'waiting', reason: expect.stringMatching(/^soaking: \d+m to go/) },
      { gate: 'healthy', status: 'waiting', reason: expect.stringMatching(/no report yet/) },
    ] });
    expect((await report('dev', 'web', 'v101')).status).toBe(202);
    await waitFor(async () => ((await get(`/api/promotions/${waiting.id}`)).gates as Array<{ gate: string; status: string }>)?.find((g) => g.gate === 'healthy')?.status === 'passed' || undefined, 'the health gate to pass');
    expect(await tagIn('staging')).toBe('0.0.0');
    offsetMs = 11 * 60_000; // the soak is over
    expect(await settled(hoist, waiting.id)).toMatchObject({ state: 'committed' });
    expect(await tagIn('staging')).toBe('v101');

    const requested = await post('/api/promotions', 'alice', { app: 'web', to: 'prod' });
    expect(requested.status).toBe(202);
    expect(requested.body).toMatchObject({ state: 'awaiting-approval', tag: 'v101', approvals: { required: 2, given: [], missing: 2 } });
    const id = requested.body.id;
    const self = await post(`/api/promotions/${id}/approve`, 'alice');
    expect(self.status).toBe(403);
    expect(self.body.error).toMatch(/requested this promotion and cannot approve it/);
    const outsider = await post(`/api/promotions/${id}/approve`, 'eve');
    expect(outsider.status).toBe(403);
    expect(outsider.body.error).toMatch(/eve is not among the approvers/);
    expect((await post(`/api/promotions/${id}/approve`, 'dave')).body).toMatchObject({ state: 'awaiting-approval', approvals: { missing: 1 } }); // via group:release-managers
    const twice = await post(`/api/promotions/${id}/approve`, 'dave');
    expect(twice.status).toBe(409);
    expect(twice.body.error).toMatch(/one person counts once/);
    expect(await tagIn('prod')).toBe('0.0.0');
    expect((await post(`/api/promotions/${id}/approve`, 'bob')).body.state).toMatch(/queued|running|committed/);
    expect(await settled(hoist, id)).toMatchObject({ state: 'committed' });
    expect(await tagIn('prod')).toBe('v101');

    const rollback = await post('/api/rollbacks', 'bob', { app: 'web', env: 'prod' });
    expect(rollback.status).toBe(202);
    expect(rollback.body).toMatchObject({ kind: 'rollback', tag: '0.0.0' });
    expect(await settled(hoist, rollback.body.id)).toMatchObject({ state: 'committed' });
    expect(await tagIn('prod')).toBe('0.0.0');
    expect(await git(gitops.bare, 'log', '-1', '--format=%s', 'main')).toBe('rollback web in prod to 0.0.0\n');
    expect(Number((await git(gitops.bare, 'rev-list', '--count', 'main')).trim())).toBe(5); // seed + 4 promotions, nothing rewritten

    const all = (await get('/api/history?app=web')).entries as Array<Record<string, unknown>>;
    // The commit that seeded the repository is not Hoist's: listed as an outside change of each overlay, last.
    expect(all.slice(-3).map((h) => [h.env, h.tag, h.previousTag, h.kind, h.author])).toEqual([
      ['dev', '0.0.0', null, 'outside', 'Test <t@example.invalid>'],
      ['prod', '0.0.0', null, 'outside', 'Test <t@example.invalid>'],
      ['staging', '0.0.0', null, 'outside', 'Test <t@example.invalid>'],
    ]);
    const history = all.filter((h) => h.kind !== 'outside');
    expect(history.map((h) => [h.env, h.tag, h.kind])).toEqual([
      ['prod', '0.0.0', 'rollback'],
      ['prod', 'v101', 'manual'],
      ['staging', 'v101', 'gated'],
      ['dev', 'v101', 'pipeline'],
    ]);
    expect(history[0]).toMatchObject({ requestedBy: 'bob', approvedBy: [] });
    expect(history[1]).toMatchObject({ requestedBy: 'alice', approvedBy: ['dave', 'bob'], promotion: id, source: 'https://gitlab.example.com/group/web/-/pipelines/101' });
    expect(history[3]).toMatchObject({ source: 'https://gitlab.example.com/group/web/-/pipelines/101', commit: expect.stringMatching(/^[0-9a-f]{40}$/), date: expect.any(String) });
    expect(((await get('/api/history?app=web&env=prod')).entries as unknown[]).length).toBe(3);
  });

  it('refuses what rbac, the chain and the approvers do not allow, with a reason, and changes nothing', async () => {
    hoist = await startTestHoist(chainConfig(gitops.url), { now: clock });
    const head = await git(gitops.bare, 'rev-parse', 'main');
    const eve = await post('/api/promotions', 'eve', { app: 'web', to: 'prod' });
    expect(eve.status).toBe(403);
    expect(eve.body.error).toMatch(/eve is not allowed to promote to prod/);
    const skip = await post('/api/promotions', 'alice', { app: 'web', to: 'prod', tag: 'v999' });
    expect(skip.status).toBe(400);
    expect(skip.body.error).toMatch(/web:v999 has never been in staging; a promotion never skips the chain/);
    expect((await post('/api/promotions', 'alice', { app: 'nope', to: 'prod' })).status).toBe(400);
    expect((await post('/api/promotions', 'alice', { app: 'web', to: 'qa' })).body.error).toMatch(/unknown environment "qa"/);
    const same = await post('/api/promotions', 'alice', { app: 'web', to: 'prod' });
    expect(same.status).toBe(409);
    expect(same.body.error).toMatch(/prod already runs web:0.0.0/);
    const anonymous = await hoist.app.request('/api/promotions', { method: 'POST', headers: { Authorization: `Bearer ${API_TOKEN}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ app: 'web', to: 'prod' }) });
    // api.token without X-Hoist-User is the robot user `api`, which rbac does not let into prod.
    expect(anonymous.status).toBe(403);
    expect(((await anonymous.json()) as { error: string }).error).toMatch(/api is not allowed to promote to prod/);
    expect((await post('/api/rollbacks', 'eve', { app: 'web', env: 'prod' })).status).toBe(403);
    expect((await post('/api/rollbacks', 'alice', { app: 'web', env: 'prod' })).status).toBe(409); // nothing earlier to go back to
    expect((await report('dev', 'web', 'v1', 'deployed', 'wrong')).status).toBe(401);
    expect(await git(gitops.bare, 'rev-parse', 'main')).toBe(head);
  });

  it('a release train lands in one commit, or not at all when one of its apps fails', async () => {
    hoist = await startTestHoist(chainConfig(gitops.url, 'soak: 1s'), { now: clock });
    await pipeline('web', 201);
    await pipeline('api', 202);
    offsetMs = 60_000;
    await waitFor(async () => ((await tagIn('staging', 'web')) === 'v201' && (await tagIn('staging', 'api')) === 'v202') || undefined, 'both apps to pass their soak into staging');

    const train = await post('/api/promotions', 'carol', { apps: ['web', 'api'], to: 'prod' });
    expect(train.body).toMatchObject({ apps: [{ app: 'web', tag: 'v201' }, { app: 'api', tag: 'v202' }], state: 'awaiting-approval' });
    await post(`/api/promotions/${train.body.id}/approve`, 'alice');
    await post(`/api/promotions/${train.body.id}/approve`, 'bob');
    const landed = await settled(hoist, train.body.id);
    expect(landed.state).toBe('committed');
    expect(await git(gitops.bare, 'log', '-1', '--format=%s', 'main')).toBe('promote 2 images to prod\n');
    expect(await git(gitops.bare, 'log', '-1', '--format=%(trailers:key=Hoist-App,valueonly)', 'main')).toBe('web\napi\n\n');

    // ghost's image is used by no container: the whole train fails and web does not move either.
    const head = await git(gitops.bare, 'rev-parse', 'main');
    const bad = await post('/api/promotions', 'alice', { apps: ['web', 'ghost'], to: 'dev', tag: 'v300' });
    expect(bad.status).toBe(202);
    const failed = await settled(hoist, bad.body.id);
    expect(failed.state).toBe('failed');
    expect(failed.error).toMatch(/ghost: .*registry\.example\.com\/group\/ghost:v300/);
    expect(await git(gitops.bare, 'rev-parse', 'main')).toBe(head);
  });

  it('waits outside the window and inside a freeze, and lands when they open', async () => {
    // 2026-12-21 is a Monday inside the freeze; 2027-01-05 a Tuesday after it.
    const at = (iso: string) => (offsetMs = Date.parse(iso) - Date.now());
    at('2026-12-21T10:00:00Z');
    hoist = await startTestHoist(chainConfig(gitops.url, 'window: "Mon-Fri 08:00-17:00 Europe/Berlin", freeze: ["2026-12-20/2027-01-04"]'), { now: clock });
    await pipeline('web', 401);
    const waiting = await waitingIn('staging');
    expect(waiting.gates).toEqual([
      { gate: 'freeze', status: 'waiting', reason: 'inside the freeze 2026-12-20/2027-01-04 (until 2027-01-04T23:00:00.000Z)' },
      { gate: 'window', status: 'passed', reason: 'inside the window Mon-Fri 08:00-17:00 Europe/Berlin' },
    ]);
    at('2027-01-05T20:00:00Z'); // after the freeze, but 21:00 in Berlin: outside the window
    await waitFor(async () => ((await get(`/api/promotions/${waiting.id}`)).gates as Array<{ gate: string; status: string; reason: string }>)?.find((g) => g.gate === 'window' && g.status === 'waiting'), 'the window gate to close');
    const view = await get(`/api/promotions/${waiting.id}`);
    expect(view.gates).toContainEqual({ gate: 'window', status: 'waiting', reason: 'outside the window Mon-Fri 08:00-17:00 Europe/Berlin; opens 2027-01-06T07:00:00.000Z' });
    expect(await tagIn('staging')).toBe('0.0.0');
    at('2027-01-06T07:30:00Z');
    expect(await settled(hoist, waiting.id)).toMatchObject({ state: 'committed' });
    expect(await tagIn('staging')).toBe('v401');
  });

  it('supersedes an older waiting promotion when a newer version arrives, and cancels on request', async () => {
    hoist = await startTestHoist(chainConfig(gitops.url), { now: clock });
    await pipeline('web', 501);
    const older = await waitingIn('staging');
    await pipeline('web', 502);
    const newer = await waitFor(async () => ((await get('/api/promotions?env=staging')).promotions as View[]).find((p) => p.tag === 'v502'), 'the newer waiting promotion');
    // The newer one is stored first, then retires the older: wait for that, not just for the newer one.
    const retired = await waitFor(async () => {
      const view = await get(`/api/promotions/${older.id}`);
      return view.state === 'waiting' ? undefined : view;
    }, 'the older promotion to be superseded');
    expect(retired).toMatchObject({ state: 'superseded', reason: `superseded by promotion ${newer.id} (web v502)` });
    const cancelled = await post(`/api/promotions/${newer.id}/cancel`, 'carol');
    expect(cancelled.body).toMatchObject({ state: 'cancelled', reason: 'cancelled by carol via api' });
    expect((await post(`/api/promotions/${newer.id}/cancel`, 'carol')).status).toBe(409);
    offsetMs = 60 * 60_000;
    await report('dev', 'web', 'v502');
    await new Promise((r) => setTimeout(r, 600)); // several gate intervals: a cancelled promotion must not land
    expect(await tagIn('staging')).toBe('0.0.0');
  });
});
