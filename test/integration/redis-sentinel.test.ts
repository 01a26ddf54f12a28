import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { burstWithFailover, expectEveryTagLanded } from '../helpers/failover-burst.js';
import { createSyntheticGitops, type TempGitops } from '../helpers/git-repos.js';
import { appsConfig, pipelineEvent, settled, startTestHoist, webhookRequest, type TestHoist } from '../helpers/hoist.js';
import { waitUntil } from '../helpers/redis-processes.js';
import { startRedisSentinel, type RedisSentinelHandle } from '../helpers/redis-sentinel.js';

const APPS = Array.from({ length: 12 }, (_, i) => `app${String(i + 1).padStart(2, '0')}`);
const CONFIG_EXTRA = 'queue: { lockTimeout: 5s, attempts: 10 }\n';

describe('Hoist under Sentinel (a master, a replica, three sentinels)', () => {
  let sentinel: RedisSentinelHandle;
  let gitops: TempGitops;
  let hoist: TestHoist;

  beforeAll(async () => {
    sentinel = await startRedisSentinel();
    gitops = await createSyntheticGitops(APPS);
    hoist = await startTestHoist(appsConfig(gitops.url, APPS, CONFIG_EXTRA), { redisUrl: sentinel.url });
  }, 120_000);
  afterAll(async () => {
    await hoist?.close();
    await gitops?.cleanup();
    await sentinel?.stop();
  }, 60_000);

  it('answers a webhook 202 only once the replica has it: 503 while the replica cannot confirm, and the resend lands', async () => {
    const request = webhookRequest(await pipelineEvent({ project: 'group/app01', id: 101 }));
    // A stopped replica stays connected but confirms nothing: the write is on the master alone.
    sentinel.replica.child.kill('SIGSTOP');
    let refused: Response;
    try {
      refused = await hoist.app.request('/webhooks/gitlab', request);
    } finally {
      sentinel.replica.child.kill('SIGCONT');
    }
    expect(refused.status).toBe(503);
    expect(((await refused.json()) as { error: string }).error).toMatch(/no replica confirmed it within 1 s.*same Idempotency-Key/);

    const resent = await hoist.app.request('/webhooks/gitlab', request);
    expect(resent.status).toBe(202);
    const [promotion] = ((await resent.json()) as { promotions: Array<{ id: string }> }).promotions;
    expect(await settled(hoist, promotion!.id, 60_000)).toMatchObject({ state: 'committed', tag: 'p101' });
  }, 120_000);

  it('loses no accepted promotion when the master is killed mid-burst and Sentinel fails over to the replica', async () => {
    const { master, replica } = sentinel;
    expect(await sentinel.masterPort()).toBe(master.port);
    const outcome = await burstWithFailover(hoist, { apps: APPS, firstId: 300, failAfter: 4, fail: () => master.kill() });
    await waitUntil(async () => (await sentinel.masterPort()) === replica.port, 'Sentinel to name the replica as master');
    expect(outcome.resent).toBeGreaterThan(0);
    await expectEveryTagLanded(hoist, gitops, outcome, 300, APPS);
    await waitUntil(async () => (await hoist.app.request('/readyz')).status === 200, 'readyz after the failover');
  }, 240_000);
});
