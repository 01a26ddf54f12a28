import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/load.js';
import { createHoist } from '../../src/hoist.js';
import { promotionId } from '../../src/service/pipeline-intake.js';
import { PROMOTION_QUEUE } from '../../src/service/promotion-job.js';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createSyntheticGitops, git, TEST_GIT_ENV } from '../helpers/git-repos.js';
import { apiHeaders, appsConfig, pipelineEvent, settled, waitFor, webhookRequest } from '../helpers/hoist.js';
import { startRedisServer } from '../helpers/redis-server.js';
import { recordFigures } from './figures.js';

describe('Redis goes away', () => {
  it('answers 503 (never 202) and not ready while Redis is down, recovers without a restart, and an AOF restart loses no accepted promotion', async () => {
    const redisDir = await mkdtemp(join(tmpdir(), 'hoist-redis-aof-'));
    let redis = await startRedisServer({ appendOnly: true, dir: redisDir });
    const port = redis.port;
    const gitops = await createSyntheticGitops(['web']);
    const dataDir = await mkdtemp(join(tmpdir(), 'hoist-data-'));
    const config = parseConfig(`${appsConfig(gitops.url, ['web'])}queue: { prefix: outage }\n`, 'test.yaml', {});
    const common = { config, redisUrl: redis.url, dataDir, logger: pino({ level: 'silent' }), gitBaseEnv: TEST_GIT_ENV };
    // Web only first, so accepted jobs sit in Redis across its restart.
    const web = createHoist({ ...common, role: 'web' });
    await web.ready();
    let worker: ReturnType<typeof createHoist> | undefined;
    const post = async (id: number) => web.app.request('/webhooks/gitlab', webhookRequest(await pipelineEvent({ project: 'group/web', id, sha: `${id}`.padStart(40, 'c') })));
    try {
      const accepted: string[] = [];
      for (let id = 1; id <= 5; id++) {
        const res = await post(id);
        expect(res.status).toBe(202);
        accepted.push(((await res.json()) as { promotions: Array<{ id: string }> }).promotions[0]!.id);
      }
      await redis.stop();

      const down = await post(6);
      expect(down.status).toBe(503);
      // A write whose answer never came may still have landed: the answer must not claim it did not.
      const downBody = (await down.json()) as { code: string; error: string };
      expect(downBody.code).toBe('unavailable');
      expect(downBody.error).toMatch(/may or may not have been stored/);
      expect(downBody.error).toMatch(/same Idempotency-Key is always safe/);
      expect(downBody.error).not.toMatch(/was not stored/);
      const ready = await web.app.request('/readyz');
      expect(ready.status).toBe(503);
      expect(((await ready.json()) as { checks: { redis: string } }).checks.redis).toMatch(/Redis is not reachable/);
      expect((await web.app.request(`/api/promotions/${accepted[0]}`, { headers: apiHeaders })).status).toBe(503);

      redis = await startRedisServer({ appendOnly: true, dir: redisDir, port });
      await waitFor(async () => ((await web.app.request('/readyz')).status === 200 ? true : undefined), 'readyz to recover', 30_000);
      const after = await post(7);
      expect(after.status).toBe(202);
      accepted.push(((await after.json()) as { promotions: Array<{ id: string }> }).promotions[0]!.id);

      worker = createHoist({ ...common, role: 'worker' });
      await worker.ready();
      const finals = await Promise.all(accepted.map((id) => settled(web, id, 30_000)));
      // All six reach the worker together and coalesce: the newest lands, older ones say they were superseded.
      expect(finals).toHaveLength(6);
      expect(finals[5]!.state).toBe('committed');
      for (const f of finals.slice(0, 5)) expect(f).toMatchObject({ state: 'skipped', reason: expect.stringMatching(/superseded by/) });
      expect(await git(gitops.bare, 'show', 'main:overlays/dev/kustomization.yaml')).toContain('newTag: "p7"');

      // The worker rides out an outage too: no restart, and it takes new work when Redis is back.
      await redis.stop();
      await new Promise((r) => setTimeout(r, 1_000));
      redis = await startRedisServer({ appendOnly: true, dir: redisDir, port });
      await waitFor(async () => ((await web.app.request('/readyz')).status === 200 ? true : undefined), 'readyz to recover again', 30_000);
      const later = await post(8);
      expect(later.status).toBe(202);
      const laterId = ((await later.json()) as { promotions: Array<{ id: string }> }).promotions[0]!.id;
      expect((await settled(web, laterId, 30_000)).state).toBe('committed');
      expect(await git(gitops.bare, 'show', 'main:overlays/dev/kustomization.yaml')).toContain('newTag: "p8"');
      const landed = (await git(gitops.bare, 'log', '--format=%(trailers:key=Hoist-Promotion,valueonly)', 'main')).split('\n').filter(Boolean);
      recordFigures('redis restarts (AOF)', { events: 7, deliveries: 8, committed: finals.filter((f) => f.state === 'committed').length + 1, skipped: finals.filter((f) => f.state === 'skipped').length, failed: 0, lost: accepted.length - finals.filter((f) => f.state === 'committed' || f.state === 'skipped').length, duplicated: landed.length - new Set(landed).size });
    } finally {
      await worker?.close();
      await web.close();
      await redis.stop();
      await gitops.cleanup();
      await rm(dataDir, { recursive: true, force: true });
      await rm(redisDir, { recursive: true, force: true });
    }
  }, 120_000);

  it('a 503 whose write Redis answered too late says it may have been stored, and resending with the same Idempotency-Key maps onto that job', async () => {
    const redis = await startRedisServer();
    const gitops = await createSyntheticGitops(['web']);
    const dataDir = await mkdtemp(join(tmpdir(), 'hoist-data-'));
    const config = parseConfig(`${appsConfig(gitops.url, ['web'])}queue: { prefix: late }\n`, 'test.yaml', {});
    const web = createHoist({ config, redisUrl: redis.url, dataDir, logger: pino({ level: 'silent' }), gitBaseEnv: TEST_GIT_ENV, role: 'web' });
    const admin = new Redis(redis.url);
    const queueRedis = new Redis(redis.url, { maxRetriesPerRequest: null });
    const queue = new Queue(PROMOTION_QUEUE, { connection: queueRedis, prefix: 'late' });
    try {
      await web.ready();
      const event = await pipelineEvent({ project: 'group/web', id: 9, sha: '9'.repeat(40) });
      const key = randomUUID();
      // Redis holds every write for longer than the producer waits (2 s), then runs them: the answer comes too late.
      await admin.call('CLIENT', 'PAUSE', '4000', 'WRITE');
      const late = await web.app.request('/webhooks/gitlab', webhookRequest(event, { 'Idempotency-Key': key }));
      expect(late.status).toBe(503);
      const body = (await late.json()) as { error: string };
      expect(body.error).toMatch(/may or may not have been stored/);
      expect(body.error).toMatch(/same Idempotency-Key is always safe/);
      // And it was stored: the job is there once Redis runs the held write.
      const id = promotionId(key, 'web', 'dev');
      await waitFor(async () => ((await queue.getJob(id)) ? true : undefined), 'the late write to land', 30_000);

      const resent = await web.app.request('/webhooks/gitlab', webhookRequest(event, { 'Idempotency-Key': key }));
      expect(resent.status).toBe(202);
      expect(((await resent.json()) as { promotions: Array<{ id: string }> }).promotions.map((p) => p.id)).toEqual([id]);
      const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed');
      expect(Object.values(counts).reduce((a, b) => a + b, 0), 'jobs in the queue').toBe(1);
      recordFigures('503 stored late, resent', { events: 1, deliveries: 2, duplicates: 1, lost: 0, duplicated: 0 });
    } finally {
      await queue.close();
      queueRedis.disconnect();
      admin.disconnect();
      await web.close();
      await redis.stop();
      await gitops.cleanup();
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 60_000);
});
