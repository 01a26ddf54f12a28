import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSyntheticGitops, git, type TempGitops } from '../helpers/git-repos.js';
import { burstWithFailover, expectEveryTagLanded } from '../helpers/failover-burst.js';
import { API_TOKEN, appsConfig, pipelineEvent, settled, startTestHoist, webhookRequest, type TestHoist } from '../helpers/hoist.js';
import { startRedisCluster, type RedisClusterHandle } from '../helpers/redis-cluster.js';
import { redisCli, waitUntil } from '../helpers/redis-processes.js';

const APPS = Array.from({ length: 12 }, (_, i) => `app${String(i + 1).padStart(2, '0')}`);
// A short lock timeout: a job whose worker lost its master mid-write is resumed in seconds, not half a minute.
const CONFIG_EXTRA = 'queue: { lockTimeout: 5s, attempts: 10 }\n';

describe('Hoist on a real Redis Cluster (3 masters, a replica each)', () => {
  let cluster: RedisClusterHandle;
  let gitops: TempGitops;
  let hoist: TestHoist | undefined;

  beforeAll(async () => {
    cluster = await startRedisCluster();
    gitops = await createSyntheticGitops(APPS);
  }, 120_000);
  afterAll(async () => {
    await hoist?.close();
    await gitops?.cleanup();
    await cluster?.stop();
  }, 60_000);

  const as = (user: string) => ({ Authorization: `Bearer ${API_TOKEN}`, 'X-Hoist-User': user, 'Content-Type': 'application/json' });

  it('runs the integration path: pipeline webhook → commit, a manual promotion, the history; every key in one slot', async () => {
    hoist = await startTestHoist(appsConfig(gitops.url, APPS, CONFIG_EXTRA), { redisUrl: cluster.url });
    const res = await hoist.app.request('/webhooks/gitlab', webhookRequest(await pipelineEvent({ project: 'group/app01', id: 101 })));
    expect(res.status).toBe(202);
    const [accepted] = ((await res.json()) as { promotions: Array<{ id: string }> }).promotions;
    expect(await settled(hoist, accepted!.id, 60_000)).toMatchObject({ state: 'committed', app: 'app01', env: 'dev', tag: 'p101' });
    expect(await git(gitops.bare, 'show', 'main:overlays/dev/kustomization.yaml')).toContain('name: registry.example.com/group/app01\n    newTag: "p101"');

    const manual = await hoist.app.request('/api/promotions', { method: 'POST', headers: as('alice'), body: JSON.stringify({ app: 'app01', env: 'prod' }) });
    expect(manual.status).toBe(202);
    const promoted = (await manual.json()) as { id: string; tag: string };
    expect(promoted.tag).toBe('p101');
    expect(await settled(hoist, promoted.id, 60_000)).toMatchObject({ state: 'committed', env: 'prod' });
    expect(await git(gitops.bare, 'show', 'main:overlays/prod/kustomization.yaml')).toContain('name: registry.example.com/group/app01\n    newTag: "p101"');

    const history = (await (await hoist.app.request('/api/history?app=app01', { headers: as('reader') })).json()) as { entries: Array<{ env: string; tag: string; kind: string }> };
    expect(history.entries.filter((e) => e.kind !== 'outside').map((e) => [e.env, e.tag, e.kind])).toEqual([
      ['prod', 'p101', 'manual'],
      ['dev', 'p101', 'pipeline'],
    ]);
    const ready = await hoist.app.request('/readyz');
    expect(ready.status).toBe(200);

    // Hoist's keys and BullMQ's all carry the install's hash tag, so they share the one slot its scripts need.
    const tag = `{${hoist.prefix}}:`;
    const keysOf = async (port: number) => (await redisCli(port, 'KEYS', '*')).split('\n').filter(Boolean);
    const holder = await keysOf((await cluster.masterOf(tag)).port);
    expect(holder).toEqual(expect.arrayContaining([`${tag}promotion:${accepted!.id}`, `${tag}hoist-promotions:meta`, `${tag}events`, `${tag}signing-key`]));
    for (const node of cluster.nodes) expect((await keysOf(node.port)).filter((k) => !k.startsWith(tag))).toEqual([]);
  }, 120_000);

  it('checks every master\'s persistence, not the one node a CONFIG happens to reach', async () => {
    // One master of three persists nothing: a CONFIG GET sent to the cluster would reach it one time in three.
    const lax = await cluster.masterOf('{hoist}');
    await redisCli(lax.port, 'CONFIG', 'SET', 'appendonly', 'no');
    const web = await startTestHoist(appsConfig(gitops.url, APPS, CONFIG_EXTRA), { role: 'web', redisUrl: cluster.url });
    try {
      const ready = await web.app.request('/readyz');
      expect(ready.status).toBe(200);
      expect(((await ready.json()) as { warnings?: unknown[] }).warnings).toEqual([
        { check: 'redis', risk: 'no_persistence', message: expect.stringMatching(new RegExp(`^Redis Cluster master 127\\.0\\.0\\.1:${lax.port}: Redis persists nothing`)) },
      ]);
      expect(await (await web.app.request('/metrics')).text()).toMatch(/^hoist_redis_persistence_risk\{risk="no_persistence"\} 1$/m);
    } finally {
      await web.close();
      await redisCli(lax.port, 'CONFIG', 'SET', 'appendonly', 'yes');
    }
  }, 60_000);

  it('loses no accepted webhook when the master holding them is killed mid-burst and its replica takes over', async () => {
    hoist ??= await startTestHoist(appsConfig(gitops.url, APPS, CONFIG_EXTRA), { redisUrl: cluster.url });
    const active = hoist;
    const victim = await cluster.masterOf(`{${active.prefix}}`);
    const outcome = await burstWithFailover(active, {
      apps: APPS,
      firstId: 300,
      failAfter: 4,
      fail: () => victim.kill(),
    });
    // The failover happened under the burst: the slot's master is another node now, and webhooks met the gap.
    await cluster.waitHealthy(`{${active.prefix}}`);
    expect((await cluster.masterOf(`{${active.prefix}}`)).port).not.toBe(victim.port);
    expect(outcome.resent).toBeGreaterThan(0);
    await expectEveryTagLanded(active, gitops, outcome, 300, APPS);
    await waitUntil(async () => (await active.app.request('/readyz')).status === 200, 'readyz after the failover');
  }, 240_000);
});
