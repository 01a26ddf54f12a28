import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PromotionSchema } from '../../src/http/schemas.js';
import type { PromotionView } from '../../src/service/promotion-service.js';
import { answerOf, expectError } from '../helpers/answers.js';
import { rolloutFixture, startArgoCdStub, type ArgoCdStub, type ArgoCdStubRequest, type LiveRollout } from '../helpers/argocd-stub.js';
import { playController, webCanary } from '../helpers/rollouts.js';
import { createTempGitops, git, PROJECT_ROOT, TEST_GIT_ENV, type TempGitops } from '../helpers/git-repos.js';
import { startGitlabStub, type GitlabStub } from '../helpers/gitlab-stub.js';
import { API_TOKEN, pipelineEvent, startTestHoist, type TestHoist, waitFor, WEBHOOK_SECRET, webhookRequest } from '../helpers/hoist.js';

type View = PromotionView;
type Swagger = { paths: Record<string, Record<string, { parameters: Array<{ name: string; in: string; schema?: unknown }> }>> };

const ARGO_WEBHOOK_TOKEN = 'argo-notifications-token';
const MM_TOKEN = 'rollouts-mattermost-token';
const OVERLAY = (env: string) => `gitops-manifests/rollouts/overlays/${env}`;
const SWAGGER = JSON.parse(await readFile(join(PROJECT_ROOT, 'test/fixtures/argocd/swagger-rollout-operations.json'), 'utf8')) as Swagger;
const ROLLOUT_QUERY = 'namespace=web-dev&resourceName=web&version=v1alpha1&kind=Rollout&group=argoproj.io';

function config(opts: { gitops: string; argocd: string; argoToken: string; dev?: string; staging?: string; stagingGates?: string; extra?: string }): string {
  return `gitops: { url: "${opts.gitops}", branch: main }
gitlab: { webhookSecret: ${WEBHOOK_SECRET} }
api: { token: ${API_TOKEN}, trustUserHeader: true }
argocd: { url: "${opts.argocd}", token: ${opts.argoToken}, applications: "{{app}}-{{env}}", webhookToken: ${ARGO_WEBHOOK_TOKEN} }
rbac:
  promote: { dev: [alice, carol], staging: [alice, carol], prod: [alice, carol] }
environments:
  - { name: dev, path: ${OVERLAY('dev')}, promotion: auto${opts.dev ?? ''} }
  - { name: staging, path: ${OVERLAY('staging')}, from: dev, promotion: gated, gates: { healthy: true${opts.stagingGates ?? ''} }${opts.staging ?? ''} }
  - name: prod
    path: ${OVERLAY('prod')}
    from: staging
    promotion: manual
    approvals: { required: 1, approvers: [carol] }
apps:
  - { name: web, project: group/web, image: registry.example.com/group/web, tag: "v$CI_PIPELINE_ID" }
chatops:
  mattermost: { token: ${MM_TOKEN} }
  users: { uid-alice: alice, uid-mallory: mallory }
queue: { gateInterval: 200ms }
${opts.extra ?? ''}`;
}

const canary = webCanary;

const PAUSED_AT_2 = { index: 1, paused: true, phase: 'Paused', message: 'CanaryPauseStep' };

describe('Argo Rollouts canary and blue-green, driven and judged by Hoist', () => {
  let gitops: TempGitops;
  let argo: ArgoCdStub;
  let hoist: TestHoist | undefined;

  const headers = (user = 'alice') => ({ Authorization: `Bearer ${API_TOKEN}`, 'X-Hoist-User': user, 'Content-Type': 'application/json' });
  const view = async (id: string) => (await (await hoist!.app.request(`/api/promotions/${id}`, { headers: headers() })).json()) as View;
  const until = (id: string, check: (v: View) => boolean, what: string, timeoutMs = 25_000) =>
    waitFor(async () => {
      const v = await view(id);
      return check(v) ? v : undefined;
    }, `${id}: ${what}`, timeoutMs);
  const headOf = () => execFileSync('git', ['rev-parse', 'main'], { cwd: gitops.bare, env: TEST_GIT_ENV }).toString().trim();
  const tagAtHead = (env: string) => /newTag: "([^"]+)"/.exec(execFileSync('git', ['show', `main:${OVERLAY(env)}/kustomization.yaml`], { cwd: gitops.bare, env: TEST_GIT_ENV }).toString())?.[1] ?? '';
  const pipeline = async (id: number) => {
    const res = await hoist!.app.request('/webhooks/gitlab', webhookRequest(await pipelineEvent({ project: 'group/web', id })));
    expect(res.status).toBe(202);
    return ((await res.json()) as { promotions: Array<{ id: string; env: string }> }).promotions.find((p) => p.env === 'dev')!.id;
  };
  const rolloutAction = (id: string, action: string, user = 'alice') => hoist!.app.request(`/api/promotions/${id}/rollout`, { method: 'POST', headers: headers(user), body: JSON.stringify({ action }) });
  const actions = () => argo.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/resource/actions'));
  const mattermost = async (user: string, text: string) => {
    const res = await hoist!.app.request('/chatops/mattermost', {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: `Token ${MM_TOKEN}` },
      body: new URLSearchParams({ command: '/hoist', text, token: MM_TOKEN, user_id: user, user_name: user, channel_id: 'deploys' }).toString(),
    });
    expect(res.status).toBe(200);
    return (await res.json()) as { text: string; response_type: string };
  };
  const notify = (body: unknown) =>
    hoist!.app.request('/webhooks/argocd', { method: 'POST', headers: { Authorization: `Bearer ${ARGO_WEBHOOK_TOKEN}`, 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  /** Every query key Hoist sends is a parameter of that operation in Argo CD's swagger (the fixture). */
  const documented = (request: ArgoCdStubRequest, path: string, method: 'get' | 'post') => {
    const params = (SWAGGER.paths[path]?.[method]?.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name);
    expect(params.length, `${method} ${path} in the swagger fixture`).toBeGreaterThan(0);
    expect(Object.keys(request.query).filter((k) => !params.includes(k)), `${request.rawUrl}: undocumented query parameters`).toEqual([]);
  };

  beforeEach(async () => {
    gitops = await createTempGitops();
    argo = await startArgoCdStub();
    // Environments without a Rollout script of their own report their head Healthy when asked to refresh.
    argo.onRefresh((name) => argo.setApplication(name, { revision: headOf(), sync: 'Synced', health: 'Healthy', phase: 'Succeeded' }));
  });
  afterEach(async () => {
    await hoist?.close();
    hoist = undefined;
    await argo.close();
    await gitops.cleanup();
  });

  /** dev's Application at the new head, holding web's Rollout as `live(tag)` makes it; `health` is what Argo CD says. */
  const scriptDev = (live: (tag: string) => LiveRollout, health = 'Suspended') =>
    argo.onRefresh((name) => {
      argo.setApplication(name, { revision: headOf(), sync: 'Synced', health: name === 'web-dev' ? health : 'Healthy', phase: 'Succeeded' });
      if (name === 'web-dev') argo.setRollout('web-dev', live(tagAtHead('dev')));
    });

  it('follows a canary step by step, resumes it from the API, promotes it fully from chat; staging opens only after that', { timeout: 90_000 }, async () => {
    hoist = await startTestHoist(config({ gitops: gitops.url, argocd: argo.url, argoToken: argo.token }));
    // An install whose Rollout health check answers Healthy whatever the Rollout does: Hoist judges the Rollout itself.
    scriptDev((tag) => canary('dev', tag, PAUSED_AT_2), 'Healthy');
    const devId = await pipeline(201);
    const paused = await until(devId, (v) => v.rollout?.step === 2, 'the paused canary');
    expect(paused.rollout).toEqual({ strategy: 'canary', name: 'web', step: 2, steps: 5, weight: 20, paused: true, pauseReason: 'CanaryPauseStep', phase: 'Paused', message: 'CanaryPauseStep' });
    expect(paused).toMatchObject({ state: 'committed', tag: 'v201' });
    expect(paused.health).toBeUndefined();
    expect(paused.watchUntil).toBeUndefined();
    expect(PromotionSchema.safeParse(paused).success).toBe(true);

    // What Hoist asked Argo CD: the resource tree, then the Rollout it found there (no version in the tree: v1alpha1).
    const tree = argo.requests.find((r) => r.path === '/api/v1/applications/web-dev/resource-tree');
    expect(tree).toMatchObject({ method: 'GET', rawUrl: '/api/v1/applications/web-dev/resource-tree', query: {}, body: '' });
    expect(tree?.headers.authorization).toBe(`Bearer ${argo.token}`);
    const resource = argo.requests.find((r) => r.path === '/api/v1/applications/web-dev/resource');
    expect(resource).toMatchObject({ method: 'GET', rawUrl: `/api/v1/applications/web-dev/resource?${ROLLOUT_QUERY}` });
    expect(resource?.query).toEqual({ namespace: 'web-dev', resourceName: 'web', version: 'v1alpha1', kind: 'Rollout', group: 'argoproj.io' });
    documented(resource!, '/api/v1/applications/{name}/resource', 'get');

    // staging's healthy gate waits: Argo CD says Healthy, but the Rollout is paused at step 2.
    const gated = await waitFor(async () => {
      const list = (await (await hoist!.app.request('/api/promotions?env=staging', { headers: headers() })).json()) as { promotions: View[] };
      return list.promotions.find((p) => p.tag === 'v201' && p.gates);
    }, 'the gated promotion of v201 in staging');
    expect(gated.state).toBe('waiting');
    expect(gated.gates).toContainEqual(expect.objectContaining({ gate: 'healthy', status: 'waiting' }));
    expect(tagAtHead('staging')).not.toBe('v201');

    const status = await mattermost('uid-alice', 'status web');
    expect(status.text).toContain('v201 (canary 2/5 at 20 %, paused)');

    // rbac: the same rights as promoting to dev, refused with the reason, and nothing sent to Argo CD.
    expectError(await answerOf(await rolloutAction(devId, 'resume', 'mallory')), 403, 'forbidden', /mallory is not allowed to promote to dev/);
    expect(actions()).toEqual([]);

    // Resume: Argo CD's action on the Rollout; the controller moves on to the timed pause at step 4.
    argo.onAction((_app, action, r) => {
      if (action === 'resume') playController(r, { index: 3, paused: true, phase: 'Paused', message: 'CanaryPauseStep' });
      if (action === 'promote-full') playController(r, { index: 5, paused: false, phase: 'Healthy', promoted: true });
    });
    const resumed = await answerOf(await rolloutAction(devId, 'resume'));
    expect(resumed.status).toBe(202);
    expect(PromotionSchema.safeParse(resumed.body).success).toBe(true);
    expect(resumed.body.rollout).toMatchObject({ step: 4, steps: 5, weight: 50, paused: true });
    const [action] = actions();
    expect(action).toMatchObject({ method: 'POST', rawUrl: `/api/v1/applications/web-dev/resource/actions?${ROLLOUT_QUERY}`, body: '"resume"' });
    expect(action?.headers['content-type']).toBe('application/json');
    expect(action?.headers.authorization).toBe(`Bearer ${argo.token}`);
    documented(action!, '/api/v1/applications/{name}/resource/actions', 'post');
    // The swagger's body of RunResourceAction is the action's name as a string (`body: "action"`).
    expect(SWAGGER.paths['/api/v1/applications/{name}/resource/actions']?.post?.parameters.find((p) => p.in === 'body')?.schema).toEqual({ type: 'string' });
    expect(tagAtHead('staging')).not.toBe('v201');

    // Promote full from chat: unmapped people are refused, alice is not.
    expect((await mattermost('uid-mallory', 'rollout web dev promote-full')).text).toMatch(/not allowed/);
    const chat = await mattermost('uid-alice', 'rollout web dev promote-full');
    expect(chat.response_type).toBe('in_channel');
    expect(chat.text).toContain('alice ran `promote-full` on the Rollout of web in dev:');
    expect(chat.text).toContain('Rollout: canary 5/5 at 100 %, healthy');
    expect(actions().map((r) => r.body)).toEqual(['"resume"', '"promote-full"']);

    // Fully promoted and Healthy: dev is healthy, its watch window runs, staging's gate opens and v201 lands there.
    const healthy = await until(devId, (v) => v.health === 'healthy' && v.watchUntil !== undefined, 'dev healthy and watched after the full promotion');
    expect(Date.parse(healthy.watchUntil ?? '')).toBeGreaterThan(Date.now());
    await waitFor(async () => (tagAtHead('staging') === 'v201' ? true : undefined), 'v201 in staging');
  });

  it('commits the previous tag back after an abort, with who and why', { timeout: 90_000 }, async () => {
    hoist = await startTestHoist(config({ gitops: gitops.url, argocd: argo.url, argoToken: argo.token }));
    scriptDev((tag) => canary('dev', tag, PAUSED_AT_2));
    const devId = await pipeline(301);
    const paused = await until(devId, (v) => v.rollout?.paused === true, 'the paused canary');
    argo.onAction((_app, action, r) => {
      if (action === 'abort') playController(r, { index: 1, paused: false, phase: 'Degraded', message: 'RolloutAborted: Rollout aborted update to revision 2', aborted: true });
    });

    const aborted = await answerOf(await rolloutAction(devId, 'abort'));
    expect(aborted.status).toBe(202);
    expect(actions().map((r) => [r.rawUrl, r.body])).toEqual([[`/api/v1/applications/web-dev/resource/actions?${ROLLOUT_QUERY}`, '"abort"']]);
    expect(aborted.body).toMatchObject({ state: 'degraded', health: 'degraded', rolledBackBy: expect.stringMatching(/^p-/) });
    expect(aborted.body.reason).toMatch(/^alice aborted the Rollout of web:v301 in dev via api; rolled back to 0\.1\.0 by promotion p-/);
    expect(aborted.body.rollout).toMatchObject({ phase: 'Degraded', weight: 0 });
    expect(PromotionSchema.safeParse(aborted.body).success).toBe(true);

    const rollback = await until(aborted.body.rolledBackBy as string, (v) => v.state === 'committed', 'the rollback commit');
    expect(rollback).toMatchObject({ kind: 'rollback', tag: '0.1.0', env: 'dev', requestedBy: 'alice' });
    expect(rollback.reason).toMatch(/rollback after an abort: alice aborted the Rollout of web:v301/);
    expect(tagAtHead('dev')).toBe('0.1.0');
    // A new commit on top of the aborted one (history is not rewritten), the only one since.
    expect((await git(gitops.bare, 'rev-list', '--count', `${paused.commit}..main`, '--', OVERLAY('dev'))).trim()).toBe('1');
    expect(await git(gitops.bare, 'log', '-1', '--format=%B', 'main', '--', OVERLAY('dev'))).toMatch(/^rollback web in dev to 0\.1\.0\n\nRollback requested by alice \(api\) \(rollback after an abort: alice aborted the Rollout of web:\S+ in dev via api\): a new commit[\s\S]*Hoist-Kind: rollback/);
    // Once aborted it is over: no second abort.
    expectError(await answerOf(await rolloutAction(devId, 'abort')), 409, 'conflict', /is degraded/);
  });

  it('marks a canary that degrades after a resume degraded and rolls it back (autoRollback), though Argo CD still says Healthy', { timeout: 90_000 }, async () => {
    hoist = await startTestHoist(config({ gitops: gitops.url, argocd: argo.url, argoToken: argo.token, dev: ', autoRollback: true' }));
    scriptDev((tag) => canary('dev', tag, PAUSED_AT_2), 'Healthy');
    const devId = await pipeline(401);
    await until(devId, (v) => v.rollout?.paused === true, 'the paused canary');
    argo.onAction((_app, action, r) => {
      if (action === 'resume') playController(r, { index: 2, paused: false, phase: 'Progressing', message: 'more replicas need to be updated' });
    });
    expect((await rolloutAction(devId, 'resume')).status).toBe(202);
    await until(devId, (v) => v.rollout?.step === 3 && v.rollout.paused === false, 'the canary on its way at step 3');
    // The analysis fails and the controller aborts; nobody sends a notification: Hoist's own rounds see it.
    const live = argo.rollout('web-dev')!;
    playController(live, { index: 2, paused: false, phase: 'Degraded', message: 'RolloutAborted: metric "success-rate" assessed Failed due to failed (1) > failureLimit (0)', aborted: true });
    argo.setRollout('web-dev', live);
    const degraded = await until(devId, (v) => v.state === 'degraded' && v.rolledBackBy !== undefined, 'degraded and rolled back');
    expect(degraded.reason).toMatch(/Rollout web is Degraded \(aborted\): RolloutAborted: metric "success-rate" assessed Failed.*rolled back automatically to 0\.1\.0/);
    await until(degraded.rolledBackBy as string, (v) => v.state === 'committed', 'the rollback commit');
    expect(tagAtHead('dev')).toBe('0.1.0');
  });

  it('catches a Degraded inside the watch window after healthy, and a newer promotion ends the older window', { timeout: 90_000 }, async () => {
    hoist = await startTestHoist(config({ gitops: gitops.url, argocd: argo.url, argoToken: argo.token, dev: ', autoRollback: true, watch: 15m' }));
    const first = await until(await pipeline(501), (v) => v.health === 'healthy' && v.watchUntil !== undefined, 'v501 healthy and watched');
    const window = Date.parse(first.watchUntil!) - Date.parse(first.updatedAt);
    expect(window).toBeGreaterThan(14 * 60_000);
    expect(window).toBeLessThanOrEqual(15 * 60_000 + 5_000);

    const second = await until(await pipeline(502), (v) => v.health === 'healthy' && v.watchUntil !== undefined, 'v502 healthy and watched');
    const older = await view(first.id);
    expect(Date.parse(older.watchUntil!)).toBeLessThanOrEqual(Date.parse(second.updatedAt));

    // Minutes later (no notification configured), v502 degrades: a round of the watch reads it and rolls back.
    argo.setApplication('web-dev', { revision: headOf(), sync: 'Synced', health: 'Degraded', phase: 'Succeeded', healthMessage: 'Deployment "web" exceeded its progress deadline' });
    const degraded = await until(second.id, (v) => v.state === 'degraded' && v.rolledBackBy !== undefined, 'the late Degraded caught', 40_000);
    expect(degraded.reason).toMatch(/Argo CD reports web-dev Degraded.*exceeded its progress deadline; rolled back automatically to v501/);
    await until(degraded.rolledBackBy as string, (v) => v.state === 'committed', 'the rollback commit');
    expect(tagAtHead('dev')).toBe('v501');
  });

  it('resumes a healthy pause by itself with autoPromote, after the time and only inside the window', { timeout: 90_000 }, async () => {
    let clock = new Date('2026-03-02T16:45:00Z'); // a Monday, inside the window
    hoist = await startTestHoist(
      config({ gitops: gitops.url, argocd: argo.url, argoToken: argo.token, stagingGates: ', window: "Mon-Fri 08:00-17:00 UTC"', staging: ', rollout: { autoPromote: { after: 10m, healthy: true } }' }),
      { now: () => clock },
    );
    argo.onRefresh((name) => {
      argo.setApplication(name, { revision: headOf(), sync: 'Synced', health: name === 'web-staging' ? 'Suspended' : 'Healthy', phase: 'Succeeded' });
      if (name === 'web-staging') argo.setRollout('web-staging', canary('staging', tagAtHead('staging'), PAUSED_AT_2));
    });
    await pipeline(601);
    await waitFor(async () => (tagAtHead('staging') === 'v601' ? true : undefined), 'v601 in staging');
    const waits = (text: string) => waitFor(async () => hoist!.logs.find((l) => l.includes('autoPromote waits') && l.includes(text)), `autoPromote waiting: ${text}`);
    await waits('resumes at 2026-03-02T16:55:00.000Z');

    // 17:01: long enough paused, but outside the window.
    clock = new Date('2026-03-02T17:01:00Z');
    const state = { application: 'web-staging', revision: headOf(), sync: 'Synced', health: 'Suspended', phase: 'Succeeded' };
    expect((await notify(state)).status).toBe(202);
    await waits('outside the window Mon-Fri 08:00-17:00 UTC');
    expect(actions()).toEqual([]);

    // Tuesday 08:01: the window is open, the pause is resumed, once.
    clock = new Date('2026-03-03T08:01:00Z');
    expect((await notify(state)).status).toBe(202);
    const [resume] = await waitFor(async () => (actions().length > 0 ? actions() : undefined), 'the resume');
    expect(resume).toMatchObject({ rawUrl: `/api/v1/applications/web-staging/resource/actions?${ROLLOUT_QUERY.replace('web-dev', 'web-staging')}`, body: '"resume"' });
    expect(hoist.logs.some((l) => l.includes('autoPromote resumed the Rollout'))).toBe(true);
  });

  it('shows a blue-green preview waiting in prod, and takes an approver to promote it', { timeout: 90_000 }, async () => {
    hoist = await startTestHoist(config({ gitops: gitops.url, argocd: argo.url, argoToken: argo.token }));
    argo.onRefresh((name) => {
      argo.setApplication(name, { revision: headOf(), sync: 'Synced', health: name === 'web-prod' ? 'Suspended' : 'Healthy', phase: 'Succeeded' });
      if (name !== 'web-prod') return;
      const r = rolloutFixture('bluegreen-paused');
      r.metadata.name = 'web';
      r.metadata.namespace = 'web-prod';
      r.spec.template.spec.containers[0]!.image = `registry.example.com/group/web:${tagAtHead('prod')}`;
      argo.setRollout('web-prod', r);
    });
    await pipeline(701);
    await waitFor(async () => (tagAtHead('staging') === 'v701' ? true : undefined), 'v701 in staging');
    const asked = (await (await hoist.app.request('/api/promotions', { method: 'POST', headers: headers('alice'), body: JSON.stringify({ app: 'web', env: 'prod' }) })).json()) as View;
    expect((await hoist.app.request(`/api/promotions/${asked.id}/approve`, { method: 'POST', headers: headers('carol') })).status).toBe(200);
    const preview = await until(asked.id, (v) => v.rollout !== undefined, 'the blue-green preview');
    expect(preview.rollout).toEqual({ strategy: 'blueGreen', name: 'web', previewReady: true, paused: true, pauseReason: 'BlueGreenPause', phase: 'Paused', message: 'Rollout is paused' });
    // alice may promote to prod, but prod takes approvals: letting the version through takes an approver.
    expectError(await answerOf(await rolloutAction(asked.id, 'promote-full', 'alice')), 403, 'forbidden', /alice is not among the approvers of prod/);
    expect((await rolloutAction(asked.id, 'promote-full', 'carol')).status).toBe(202);
    expect(actions().map((r) => [r.path, r.body])).toEqual([['/api/v1/applications/web-prod/resource/actions', '"promote-full"']]);
  });
});

describe('/hoist rollout in a GitLab comment', () => {
  const GITLAB_TOKEN = 'glpat-hoist-rollouts';
  const BOT = { id: 77, username: 'hoist-bot' };
  let gitops: TempGitops;
  let argo: ArgoCdStub;
  let gitlab: GitlabStub;
  let hoist: TestHoist | undefined;

  beforeEach(async () => {
    gitops = await createTempGitops();
    argo = await startArgoCdStub();
    gitlab = await startGitlabStub({ token: GITLAB_TOKEN, user: BOT });
  });
  afterEach(async () => {
    await hoist?.close();
    hoist = undefined;
    await argo.close();
    await gitlab.close();
    await gitops.cleanup();
  });

  it('resumes the canary for a person rbac allows, answers in the thread, and refuses the others', { timeout: 90_000 }, async () => {
    const webProject = gitlab.addProject('group/web');
    hoist = await startTestHoist(
      config({ gitops: gitops.url, argocd: argo.url, argoToken: argo.token }).replace(`gitlab: { webhookSecret: ${WEBHOOK_SECRET} }`, `gitlab: { webhookSecret: ${WEBHOOK_SECRET}, url: "${gitlab.url}", token: ${GITLAB_TOKEN} }`),
    );
    const head = () => execFileSync('git', ['rev-parse', 'main'], { cwd: gitops.bare, env: TEST_GIT_ENV }).toString().trim();
    argo.onRefresh((name) => {
      argo.setApplication(name, { revision: head(), sync: 'Synced', health: 'Suspended', phase: 'Succeeded' });
      if (name === 'web-dev') argo.setRollout('web-dev', canary('dev', 'v801', PAUSED_AT_2));
    });
    const sha = 'c'.repeat(40);
    const res = await hoist.app.request('/webhooks/gitlab', webhookRequest(await pipelineEvent({ project: 'group/web', id: 801, sha })));
    const devId = ((await res.json()) as { promotions: Array<{ id: string; env: string }> }).promotions.find((p) => p.env === 'dev')!.id;
    await waitFor(async () => {
      const v = (await (await hoist!.app.request(`/api/promotions/${devId}`, { headers: { Authorization: `Bearer ${API_TOKEN}` } })).json()) as View;
      return v.rollout?.paused ? v : undefined;
    }, 'the paused canary');

    const sample = JSON.parse(await readFile(join(PROJECT_ROOT, 'test/fixtures/gitlab/note-commit-event.json'), 'utf8')) as Record<string, Record<string, unknown>>;
    const comment = async (who: { id: number; username: string }, text: string) => {
      const { noteId, discussionId } = gitlab.comment('group/web', { kind: 'commit', sha }, text, who);
      const hook = {
        ...sample,
        user: { ...sample.user, id: who.id, username: who.username, name: who.username },
        project: { ...sample.project, id: webProject, path_with_namespace: 'group/web' },
        object_attributes: { ...sample.object_attributes, id: noteId, note: text, discussion_id: discussionId, commit_id: sha },
      };
      expect((await hoist!.app.request('/webhooks/gitlab', webhookRequest(hook, { 'X-Gitlab-Event': 'Note Hook' }))).status).toBe(202);
      return waitFor(async () => gitlab.notes('group/web').find((n) => n.author === BOT.username && n.discussionId === discussionId), `the answer to ${who.username}`);
    };
    argo.onAction((_app, action, r) => {
      if (action === 'resume') playController(r, { index: 2, paused: false, phase: 'Progressing' });
    });

    const refused = await comment({ id: 14, username: 'mallory' }, '/hoist rollout web dev resume');
    expect(refused.body.replace(/\\(.)/g, '$1')).toMatch(/^🚫 not allowed: mallory is not allowed to promote to dev/);
    const done = await comment({ id: 11, username: 'alice' }, '/hoist rollout web dev resume');
    const text = done.body.replace(/\\(.)/g, '$1');
    expect(text).toContain('alice ran `resume` on the Rollout of web in dev:');
    expect(text).toContain('Rollout: canary 3/5 at 50 %, progressing');
    expect(argo.requests.filter((r) => r.method === 'POST').map((r) => [r.rawUrl, r.body])).toEqual([[`/api/v1/applications/web-dev/resource/actions?${ROLLOUT_QUERY}`, '"resume"']]);
  });
});
