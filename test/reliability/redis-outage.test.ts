import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/load.js';
import { createHoist } from '../../src/hoist.js';
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
      expect(await down.json()).toMatchObject({ code: 'unavailable', error: expect.stringMatching(/not stored/) });
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
});
