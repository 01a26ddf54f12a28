import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import { spawnHoist, type HoistProcess } from '../helpers/processes.js';
import { freePort } from '../helpers/redis-server.js';

export interface WorkerFleet {
  prefix: string;
  configPath: string;
  workers: HoistProcess[];
  /** Starts one more worker process. */
  start(env?: Record<string, string>): Promise<HoistProcess>;
  /** Starts a worker again on the data dir (working clone) a dead one left behind. */
  restart(dead: HoistProcess): Promise<HoistProcess>;
  /** The environment a worker was started with (PORT, HOIST_DATA_DIR, …). */
  envOf(worker: HoistProcess): Record<string, string>;
  stop(): Promise<void>;
}

/**
 * Worker processes (HOIST_ROLE=worker) sharing one Redis prefix and GitOps repo, each with its own data
 * dir, as separate pods would run. The web side is usually an in-process Hoist on the same prefix.
 */
export async function startWorkerFleet(configText: (prefix: string) => string, count: number, options: { redisUrl?: string; env?: Record<string, string> } = {}): Promise<WorkerFleet> {
  const dir = await mkdtemp(join(tmpdir(), 'hoist-fleet-'));
  const prefix = `w${randomUUID().slice(0, 8)}`;
  const configPath = join(dir, 'hoist.yaml');
  await writeFile(configPath, configText(prefix));
  const workers: HoistProcess[] = [];
  const envOf = new Map<HoistProcess, Record<string, string>>();
  let n = 0;
  const launch = async (env: Record<string, string>) => {
    const worker = spawnHoist(env);
    envOf.set(worker, env);
    workers.push(worker);
    await worker.listening;
    return worker;
  };
  const start = async (env: Record<string, string> = {}) =>
    launch({
      HOIST_ROLE: 'worker',
      HOIST_CONFIG: configPath,
      HOIST_DATA_DIR: join(dir, `data-${n++}`),
      REDIS_URL: options.redisUrl ?? inject('redisUrl'),
      PORT: String(await freePort()),
      ...options.env,
      ...env,
    });
  for (let i = 0; i < count; i++) await start();
  return {
    prefix,
    configPath,
    workers,
    start,
    restart: async (dead) => launch({ ...envOf.get(dead), PORT: String(await freePort()) }),
    envOf: (worker) => envOf.get(worker) ?? {},
    async stop() {
      for (const w of workers) w.kill('SIGKILL');
      await Promise.all(workers.map((w) => w.exited));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
