import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startArgoCdStub, type ArgoCdStub } from '../helpers/argocd-stub.js';
import { createSyntheticGitops, PROJECT_ROOT, TEST_GIT_ENV, type TempGitops } from '../helpers/git-repos.js';
import { API_TOKEN, pipelineEvent, startTestHoist, type TestHoist, waitFor, webhookRequest, WEBHOOK_SECRET } from '../helpers/hoist.js';

const ARGO_WEBHOOK_TOKEN = 'argo-notifications-token';
const T0 = Date.parse('2026-03-02T10:00:00.000Z');
const MIN = 60_000;

function config(gitops: string, argocd: string, argoToken: string): string {
  return `gitops: { url: "${gitops}", branch: main }
gitlab: { webhookSecret: ${WEBHOOK_SECRET} }
api: { token: ${API_TOKEN}, trustUserHeader: true }
argocd: { url: "${argocd}", token: ${argoToken}, applications: "{{app}}-{{env}}", webhookToken: ${ARGO_WEBHOOK_TOKEN} }
dora: { failureWindow: 1h }
environments:
  - { name: dev, path: overlays/dev, promotion: auto, autoRollback: true }
  - { name: prod, path: overlays/prod, from: dev, promotion: manual }
apps:
  - { name: web, project: group/web, image: registry.example.com/group/web, tag: "v$CI_PIPELINE_ID" }
`;
}

type View = { id: string; state: string; commit?: string; health?: string; rolledBackBy?: string };

describe('DORA figures from a scripted history (GET /api/dora, /metrics)', () => {
  let gitops: TempGitops;
  let argo: ArgoCdStub;
  let hoist: TestHoist | undefined;
  // The clock Hoist reads; the script moves it.
  let clock = T0;

  const headers = { Authorization: `Bearer ${API_TOKEN}` };
  const view = async (id: string) => (await (await hoist!.app.request(`/api/promotions/${id}`, { headers })).json()) as View;
  const until = (id: string, check: (v: View) => boolean, what: string) =>
    waitFor(async () => {
      const v = await view(id);
      return check(v) ? v : undefined;
    }, what);
  const headOf = () => execFileSync('git', ['rev-parse', 'main'], { cwd: gitops.bare, env: TEST_GIT_ENV }).toString().trim();
  const metric = async (line: RegExp) => {
    const text = await (await hoist!.app.request('/metrics')).text();
    return text.split('\n').find((l) => line.test(l))?.split(' ').at(-1);
  };
  const metricIs = (line: RegExp, value: string) => waitFor(async () => ((await metric(line)) === value ? true : undefined), `${line.source} to be ${value}`);
  const pipeline = async (id: number, committedAt: number) => {
    const event = await pipelineEvent({ project: 'group/web', id, sha: randomUUID().replace(/-/g, '').padEnd(40, '0') });
    const body = { ...event, commit: { ...((event as Record<string, unknown>).commit as object), timestamp: new Date(committedAt).toISOString().replace('.000Z', '+00:00') } };
    const res = await hoist!.app.request('/webhooks/gitlab', webhookRequest(body));
    expect(res.status).toBe(202);
    return ((await res.json()) as { promotions: Array<{ id: string }> }).promotions[0]!.id;
  };
  const notify = async (revision: string, health: 'Healthy' | 'Degraded') => {
    const res = await hoist!.app.request('/webhooks/argocd', {
      method: 'POST',
      headers: { Authorization: `Bearer ${ARGO_WEBHOOK_TOKEN}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ application: 'web-dev', revision, sync: 'Synced', health, phase: 'Succeeded' }),
    });
    expect(res.status).toBe(202);
  };
  const dora = async (query: string) => {
    const res = await hoist!.app.request(`/api/dora${query}`, { headers });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  beforeEach(async () => {
    clock = T0;
    gitops = await createSyntheticGitops(['web']);
    argo = await startArgoCdStub();
    // Argo CD never decides by itself: the script's notifications do, each at a known time.
    argo.onRefresh((name) => argo.setApplication(name, { revision: headOf(), sync: 'OutOfSync', health: 'Progressing', phase: 'Running' }));
    argo.setApplication('web-dev', { revision: headOf(), sync: 'OutOfSync', health: 'Progressing', phase: 'Running' });
  });
  afterEach(async () => {
    await hoist?.close();
    hoist = undefined;
    await argo.close();
    await gitops.cleanup();
  });

  it('answers deployment frequency, lead time, change failure rate and time to restore, and exposes them as metrics', async () => {
    hoist = await startTestHoist(config(gitops.url, argo.url, argo.token), { now: () => new Date(clock) });

    // 10:00 v1 (committed 08:00) lands; healthy at 10:10: lead time 2 h 10 min.
    const first = await until(await pipeline(1, T0 - 120 * MIN), (v) => v.state === 'committed', 'v1 in dev');
    await metricIs(/^hoist_deployments_total\{env="dev"\}/, '1');
    clock = T0 + 10 * MIN;
    await notify(first.commit!, 'Healthy');
    await metricIs(/^hoist_lead_time_seconds_count\{env="dev"\}/, '1');
    expect(await metric(/^hoist_lead_time_seconds_sum\{env="dev"\}/)).toBe(String(130 * 60));

    // 12:00 v2 (committed 11:00) lands; degraded at 12:05 (a failed change), rolled back at once to v1.
    clock = T0 + 120 * MIN;
    const second = await until(await pipeline(2, T0 + 60 * MIN), (v) => v.state === 'committed', 'v2 in dev');
    await metricIs(/^hoist_deployments_total\{env="dev"\}/, '2');
    clock = T0 + 125 * MIN;
    await notify(second.commit!, 'Degraded');
    const rolledBack = await until(second.id, (v) => v.rolledBackBy !== undefined, 'the rollback of v2');
    const rollback = await until(rolledBack.rolledBackBy!, (v) => v.state === 'committed', 'the rollback to land');
    await metricIs(/^hoist_deployments_total\{env="dev"\}/, '3');
    await metricIs(/^hoist_deployment_failures_total\{env="dev"\}/, '1');

    // 12:20 the rollback is healthy: restored after 15 minutes. A rollback brings back an old commit: no lead-time sample.
    clock = T0 + 140 * MIN;
    await notify(rollback.commit!, 'Healthy');
    await until(rollback.id, (v) => v.health === 'healthy', 'the rollback healthy');
    const window = `?env=dev&since=${new Date(T0).toISOString()}&until=${new Date(T0 + 24 * 60 * MIN).toISOString()}`;
    const answer = await waitFor(async () => {
      const { body } = await dora(window);
      return (body.timeToRestore as { incidents: number }).incidents === 1 ? body : undefined;
    }, 'the restore to be recorded');
    expect(answer).toEqual({
      deploymentFrequency: { perDay: 3, deployments: 3, days: 1 },
      leadTime: { medianSeconds: 130 * 60, p90Seconds: 130 * 60, samples: 1 },
      changeFailureRate: { rate: 0.333, failures: 1, deployments: 3 },
      timeToRestore: { medianSeconds: 15 * 60, incidents: 1 },
      since: new Date(T0).toISOString(),
      until: new Date(T0 + 24 * 60 * MIN).toISOString(),
      env: 'dev',
    });
    expect(await metric(/^hoist_lead_time_seconds_count\{env="dev"\}/)).toBe('1');
    expect(await metric(/^hoist_deployment_failures_total\{env="dev"\}/)).toBe('1');

    // The window defaults to the 30 days before now (the injected clock), and prod has had nothing.
    const defaults = await dora('');
    expect(defaults.body).toMatchObject({ until: new Date(clock).toISOString(), since: new Date(clock - 30 * 24 * 60 * MIN).toISOString(), deploymentFrequency: { deployments: 3, days: 30 } });
    expect((await dora('?env=prod')).body).toMatchObject({ deploymentFrequency: { perDay: 0, deployments: 0 }, changeFailureRate: { rate: null }, leadTime: { medianSeconds: null } });

    // Bad input is answered, and named.
    expect(await dora('?env=nope')).toMatchObject({ status: 400, body: { code: 'bad_request', error: expect.stringContaining('unknown environment "nope"') } });
    expect(await dora('?since=yesterday')).toMatchObject({ status: 400, body: { error: expect.stringContaining('ISO 8601') } });
    expect(await dora(`?since=${new Date(T0).toISOString()}&until=${new Date(T0 - MIN).toISOString()}`)).toMatchObject({ status: 400, body: { error: expect.stringMatching(/must be before until/) } });
  });

  it('counts a degraded version that Argo CD reports healthy again as restored, without a rollback', async () => {
    hoist = await startTestHoist(config(gitops.url, argo.url, argo.token).replace('autoRollback: true', 'autoRollback: false'), { now: () => new Date(clock) });
    const landed = await until(await pipeline(5, T0 - 30 * MIN), (v) => v.state === 'committed', 'v5 in dev');
    await metricIs(/^hoist_deployments_total\{env="dev"\}/, '1');
    clock = T0 + 5 * MIN;
    await notify(landed.commit!, 'Degraded');
    await until(landed.id, (v) => v.state === 'degraded', 'v5 degraded');
    await metricIs(/^hoist_deployment_failures_total\{env="dev"\}/, '1');
    clock = T0 + 25 * MIN;
    await notify(landed.commit!, 'Healthy');
    // It stays a degraded promotion (history is not rewritten), and it is healthy again.
    expect(await until(landed.id, (v) => v.health === 'healthy', 'v5 healthy again')).toMatchObject({ state: 'degraded', health: 'healthy' });
    const figures = await waitFor(async () => {
      const { body } = await dora('?env=dev');
      return (body.timeToRestore as { incidents: number }).incidents === 1 ? body : undefined;
    }, 'the restore to be recorded');
    expect(figures).toMatchObject({ timeToRestore: { medianSeconds: 20 * 60, incidents: 1 }, changeFailureRate: { rate: 1, failures: 1, deployments: 1 }, leadTime: { samples: 0 } });
  });

  it('answers a Note Hook with why it does nothing when GitLab comments are not configured', async () => {
    hoist = await startTestHoist(config(gitops.url, argo.url, argo.token));
    const sample = JSON.parse(await readFile(join(PROJECT_ROOT, 'test/fixtures/gitlab/note-merge-request-event.json'), 'utf8')) as Record<string, Record<string, unknown>>;
    const hook = { ...sample, object_attributes: { ...sample.object_attributes, note: '/hoist promote web prod' } };
    const res = await hoist.app.request('/webhooks/gitlab', webhookRequest(hook, { 'X-Gitlab-Event': 'Note Hook' }));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ignored: expect.stringMatching(/needs gitlab\.url and gitlab\.token/) });
  });
});
