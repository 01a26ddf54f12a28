import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSyntheticGitops, type TempGitops } from '../helpers/git-repos.js';
import { appsConfig, startTestHoist } from '../helpers/hoist.js';
import { startRedisServer, type RedisServerOptions } from '../helpers/redis-server.js';

type Readiness = { status: string; checks: Record<string, string>; warnings?: Array<{ check: string; risk: string; message: string }> };

/** Starts Hoist on a Redis of its own with `options`; returns what an operator sees: /readyz, /metrics, the logs. */
async function observe(gitops: TempGitops, options: RedisServerOptions) {
  const redis = await startRedisServer(options);
  const hoist = await startTestHoist(appsConfig(gitops.url, ['web']), { role: 'web', redisUrl: redis.url });
  try {
    const ready = await hoist.app.request('/readyz');
    const metrics = await (await hoist.app.request('/metrics')).text();
    const gauge = Object.fromEntries(
      [...metrics.matchAll(/^hoist_redis_persistence_risk\{risk="([a-z_]+)"\} (\d+)$/gm)].map((m) => [m[1] as string, Number(m[2])]),
    );
    const warned = hoist.logs.map((line) => JSON.parse(line) as { level: number; msg: string; risk?: string }).filter((l) => l.level === 40 && l.risk !== undefined);
    return { status: ready.status, body: (await ready.json()) as Readiness, gauge, warned };
  } finally {
    await hoist.close();
    await redis.stop();
  }
}

describe('Redis persistence, checked at start-up', () => {
  let gitops: TempGitops;
  beforeAll(async () => {
    gitops = await createSyntheticGitops(['web']);
  });
  afterAll(async () => {
    await gitops.cleanup();
  });

  it('warns when Redis persists nothing: in the log, in /readyz (still ready) and in the metric', async () => {
    const seen = await observe(gitops, { appendOnly: false });
    expect(seen.status).toBe(200);
    expect(seen.body.status).toBe('ready');
    expect(seen.body.warnings).toEqual([{ check: 'redis', risk: 'no_persistence', message: expect.stringMatching(/lost on a Redis restart.*appendonly yes/) }]);
    expect(seen.gauge).toEqual({ no_persistence: 1, eviction: 0, unknown: 0 });
    expect(seen.warned.map((l) => [l.risk, l.msg])).toEqual([['no_persistence', seen.body.warnings?.[0]?.message]]);
  });

  it('warns when Redis may evict keys', async () => {
    const seen = await observe(gitops, { appendOnly: true, maxmemoryPolicy: 'allkeys-lru' });
    expect(seen.status).toBe(200);
    expect(seen.body.warnings).toEqual([{ check: 'redis', risk: 'eviction', message: expect.stringMatching(/maxmemory-policy allkeys-lru.*could be evicted/) }]);
    expect(seen.gauge).toEqual({ no_persistence: 0, eviction: 1, unknown: 0 });
  });

  it('has nothing to warn about with AOF and noeviction', async () => {
    const seen = await observe(gitops, { appendOnly: true, maxmemoryPolicy: 'noeviction' });
    expect(seen.status).toBe(200);
    expect(seen.body).toEqual({ status: 'ready', checks: { redis: 'ok', gitops: 'ok' } });
    expect(seen.gauge).toEqual({ no_persistence: 0, eviction: 0, unknown: 0 });
    expect(seen.warned).toEqual([]);
  });

  it('says it could not check when Redis refuses CONFIG, as managed ones may', async () => {
    const seen = await observe(gitops, { appendOnly: true, disableConfig: true });
    expect(seen.status).toBe(200);
    expect(seen.body.warnings).toEqual([{ check: 'redis', risk: 'unknown', message: expect.stringMatching(/^could not check Redis persistence \(CONFIG GET refused: ERR unknown command/) }]);
    expect(seen.gauge).toEqual({ no_persistence: 0, eviction: 0, unknown: 1 });
    expect(seen.warned.map((l) => l.risk)).toEqual(['unknown']);
  });
});
