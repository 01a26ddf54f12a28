import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { RedisServerHandle } from '../../test/helpers/redis-server.js';
import { baseEnv, PROJECT_ROOT, startNodeProcess, type Memory, type ServiceHandle } from './processes.js';

export interface MemoryRecord {
  scenario: string;
  process: string;
  peakMiB: number;
  sampledMaxMiB: number;
}

export interface HoistOptions {
  /** Scenario and pass, e.g. "2 main": names the log file and the memory record. */
  name: string;
  scenario: string;
  configText: string;
  role: 'web' | 'worker' | 'all';
  /** Reuse a data dir (persistent clone); a new one by default. */
  dataDir?: string;
  env?: Record<string, string>;
  nodeArgs?: string[];
}

export interface HoistProcess extends ServiceHandle {
  dataDir: string;
  /** Stops it and records its peak RSS under its scenario. */
  finish(graceMs?: number): Promise<Memory>;
}

export interface BenchContext {
  root: string;
  redis: RedisServerHandle;
  quick: boolean;
  /** Command-line flags (e.g. --no-profile). */
  flags: ReadonlySet<string>;
  /** The checkout whose dist/main.js is measured (this one unless --service-root). */
  serviceRoot: string;
  /** performance.now() by which the whole run must be done. */
  deadline: number;
  memory: MemoryRecord[];
  flushRedis(): Promise<void>;
  startHoist(options: HoistOptions): Promise<HoistProcess>;
  startFloor(scenario: string): Promise<HoistProcess>;
  /** Registers a clean-up step; run in reverse order at the end, whatever happened. */
  defer(step: () => Promise<unknown>): void;
  runDeferred(): Promise<void>;
  log(message: string): void;
  remainingS(): number;
}

const slug = (name: string) => name.replace(/[^a-z0-9]+/gi, '-').toLowerCase();

/** The flags `npm start` gives node (`node <flags> dist/main.js` in the service's package.json), if any. */
export async function startFlags(serviceRoot: string): Promise<string[]> {
  const pkg = JSON.parse(await readFile(join(serviceRoot, 'package.json'), 'utf8')) as { scripts?: Record<string, string> };
  const match = /^node\s+(.*?)\s*dist\/main\.js$/.exec(pkg.scripts?.start?.trim() ?? '');
  return match?.[1] ? match[1].split(/\s+/) : [];
}

export async function createContext(
  redis: RedisServerHandle,
  options: { quick: boolean; flags: ReadonlySet<string>; serviceRoot: string; budgetS: number; startedAt: number },
): Promise<BenchContext> {
  const root = await mkdtemp(join(tmpdir(), 'hoist-bench-'));
  await mkdir(join(root, 'logs'));
  const deferred: Array<() => Promise<unknown>> = [];
  const memory: MemoryRecord[] = [];
  const client = new Redis(redis.url, { maxRetriesPerRequest: 3 });
  deferred.push(() => client.quit().catch(() => client.disconnect()));

  const track = (handle: ServiceHandle, scenario: string, dataDir: string): HoistProcess => {
    let recorded = false;
    const finish = async (graceMs?: number) => {
      const mem = await handle.stop(graceMs);
      if (!recorded) memory.push({ scenario, process: handle.name, peakMiB: mem.peakMiB, sampledMaxMiB: mem.sampledMaxMiB });
      recorded = true;
      return mem;
    };
    deferred.push(() => finish(2_000));
    return { ...handle, dataDir, finish };
  };

  return {
    root,
    redis,
    quick: options.quick,
    flags: options.flags,
    serviceRoot: options.serviceRoot,
    deadline: options.startedAt + options.budgetS * 1000,
    memory,
    async flushRedis() {
      await client.flushall();
    },
    async startHoist(o) {
      const dataDir = o.dataDir ?? (await mkdtemp(join(root, 'data-')));
      const configPath = join(root, `${slug(o.name)}.yaml`);
      await writeFile(configPath, o.configText);
      const handle = await startNodeProcess({
        name: `hoist (${o.name})`,
        // The node flags of `npm start` (package.json), so the bench measures the service as it is started.
        nodeArgs: [...(await startFlags(options.serviceRoot)), ...(o.nodeArgs ?? [])],
        script: join(options.serviceRoot, 'dist/main.js'),
        env: {
          ...baseEnv(),
          HOIST_CONFIG: configPath,
          REDIS_URL: redis.url,
          HOIST_DATA_DIR: dataDir,
          HOIST_ROLE: o.role,
          ...o.env,
        },
        logFile: join(root, 'logs', `${slug(o.name)}.log`),
        readyPath: '/healthz',
        cwd: options.serviceRoot,
      });
      return track(handle, o.scenario, dataDir);
    },
    async startFloor(scenario) {
      const handle = await startNodeProcess({
        name: 'floor (hono + BullMQ)',
        script: join(PROJECT_ROOT, 'bench/floor-server.mjs'),
        env: { ...baseEnv(), REDIS_URL: redis.url },
        logFile: join(root, 'logs', 'floor.log'),
        readyPath: '/healthz',
      });
      return track(handle, scenario, root);
    },
    defer(step) {
      deferred.push(step);
    },
    async runDeferred() {
      while (deferred.length > 0) {
        const step = deferred.pop();
        await step?.().catch((error: unknown) => console.error(`clean-up step failed: ${(error as Error).message}`));
      }
    },
    log(message) {
      const s = ((performance.now() - options.startedAt) / 1000).toFixed(0).padStart(4);
      process.stderr.write(`[bench ${s}s] ${message}\n`);
    },
    remainingS() {
      return (options.startedAt + options.budgetS * 1000 - performance.now()) / 1000;
    },
  };
}
