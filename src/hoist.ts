import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import type { Logger } from 'pino';
import type { HoistConfig } from './config/schema.js';
import { parseFreeze, parseWindow } from './domain/gates.js';
import type { App, Environment } from './domain/types.js';
import { splitCredentials, type GitSetup } from './gitops/git.js';
import { createRepoReader } from './gitops/reader.js';
import { createRemoteProbe } from './gitops/remote-probe.js';
import { createWorkspace } from './gitops/workspace.js';
import { createPushWriter } from './gitops/writer.js';
import { createHttpApp } from './http/app.js';
import { createKustomizeRenderer, type Renderer } from './kustomize/index.js';
import { createRedisConnection, whenConnected } from './queue/connection.js';
import { createKeyedBatcher } from './queue/keyed-batch.js';
import { startWorker } from './queue/worker.js';
import { createPipelineIntake } from './service/pipeline-intake.js';
import { GATE_QUEUE, PROMOTION_QUEUE, type GateJob, type PromotionJob } from './service/promotion-job.js';
import { createPromotionService } from './service/promotions.js';
import { createDeploymentReports } from './store/deployment-reports.js';
import { createPromotionProcessor, type PromotionResult } from './service/promotion-processor.js';
import { createPromotionStore } from './store/promotion-store.js';

export interface HoistOptions {
  config: HoistConfig;
  redisUrl: string;
  dataDir: string;
  logger: Logger;
  gitBaseEnv: Readonly<Record<string, string>>;
  renderer?: Renderer;
  /** `web` takes webhooks and API calls, `worker` writes to the GitOps repo, `all` does both. */
  role?: HoistRole;
  /** The clock gates are judged by; tests move it forward instead of waiting. */
  now?: () => Date;
}

export type HoistRole = 'all' | 'web' | 'worker';

export interface Hoist {
  app: ReturnType<typeof createHttpApp>;
  /** Resolves once Redis answered; rejects with the connection error otherwise. */
  ready(): Promise<void>;
  /** Stop taking work, let running jobs finish, close connections. */
  close(): Promise<void>;
}

function toDomain(config: HoistConfig): { environments: Environment[]; apps: App[] } {
  return {
    environments: config.environments.map((e) => {
      const window = e.gates?.window ? parseWindow(e.gates.window) : undefined;
      return {
        name: e.name,
        path: e.path,
        promotion: e.promotion,
        from: e.from,
        pending: e.pending,
        approvals: e.approvals,
        gates: e.gates && {
          soakMs: e.gates.soak,
          healthy: e.gates.healthy,
          window,
          // Freeze dates are calendar days in the window's time zone (UTC without a window).
          freeze: e.gates.freeze?.map((f) => parseFreeze(f, window?.timeZone)),
        },
      };
    }),
    apps: config.apps.map((a) => ({ ...a })),
  };
}

/** Wires every part from config; the only place that knows them all. */
export function createHoist(options: HoistOptions): Hoist {
  const { config, logger } = options;
  const { prefix, attempts, concurrency, lockTimeout } = config.queue;
  const role = options.role ?? 'all';
  const { environments, apps } = toDomain(config);
  const access = splitCredentials(config.gitops.url);
  const repoKey = createHash('sha256').update(`${access.url}\n${config.gitops.branch}`).digest('hex').slice(0, 16);
  const gitSetup: GitSetup = { access, toolsDir: join(options.dataDir, 'tools'), baseEnv: options.gitBaseEnv, author: config.gitops.author };

  const producer = createRedisConnection(options.redisUrl, 'producer');
  const queue = new Queue<PromotionJob>(PROMOTION_QUEUE, {
    connection: producer,
    prefix,
    defaultJobOptions: { attempts, backoff: { type: 'exponential', delay: 1_000 } },
  });
  queue.on('error', () => undefined);
  const store = createPromotionStore(producer, prefix);
  const gateQueue = new Queue<GateJob>(GATE_QUEUE, { connection: producer, prefix, defaultJobOptions: { attempts: 3, backoff: { type: 'exponential', delay: 1_000 } } });
  gateQueue.on('error', () => undefined);
  const deploymentReports = createDeploymentReports(producer, prefix);
  const now = options.now ?? (() => new Date());
  const intake = createPipelineIntake({ apps, environments, queue, store, logger });
  const reader = createRepoReader({ ...gitSetup, dir: join(options.dataDir, 'read', `${repoKey}.git`), branch: config.gitops.branch });
  const probeRemote = createRemoteProbe({ ...gitSetup, dir: options.dataDir, branch: config.gitops.branch });
  const service = createPromotionService({
    environments,
    apps,
    rbac: config.rbac,
    store,
    queue,
    gateQueue,
    reader,
    health: deploymentReports,
    logger,
    now,
    gateIntervalMs: config.queue.gateInterval,
  });
  let accepting = true;

  const closers: Array<() => Promise<unknown>> = [];
  if (role !== 'web') {
    const workerRedis = createRedisConnection(options.redisUrl, 'worker');
    const subscriber = createRedisConnection(options.redisUrl, 'worker');
    const workerStore = createPromotionStore(workerRedis, prefix);
    const batcher = createKeyedBatcher({ redis: workerRedis, subscriber, prefix, lockTtlMs: lockTimeout });
    const workspace = createWorkspace({ ...gitSetup, dir: join(options.dataDir, 'workspaces', repoKey), branch: config.gitops.branch });
    const writer = createPushWriter({ workspace, renderer: options.renderer ?? createKustomizeRenderer(), logger });
    const process = createPromotionProcessor({ store: workerStore, batcher, writer, repoKey, logger, onCommitted: service.afterCommit });
    const worker = startWorker<PromotionJob, PromotionResult>(
      PROMOTION_QUEUE,
      (job) => process({ data: job.data, attemptsMade: job.attemptsMade, maxAttempts: job.opts.attempts ?? 1 }),
      { connection: createRedisConnection(options.redisUrl, 'worker'), prefix, concurrency, lockDurationMs: lockTimeout },
    );
    worker.on('error', (error) => logger.warn({ err: error.message }, 'queue worker error'));
    const gateWorker = startWorker<GateJob, void>(GATE_QUEUE, (job) => service.checkGates(job.data.promotionId), {
      connection: createRedisConnection(options.redisUrl, 'worker'),
      prefix,
      concurrency: 4,
      lockDurationMs: lockTimeout,
    });
    gateWorker.on('error', (error) => logger.warn({ err: error.message }, 'gate worker error'));
    closers.push(
      () => gateWorker.close(),
      () => worker.close(),
      () => batcher.close(),
      () => subscriber.quit().catch(() => subscriber.disconnect()),
      () => workerRedis.quit().catch(() => workerRedis.disconnect()),
    );
  }

  const app = createHttpApp({
    logger,
    // A worker-only process answers probes but takes no webhooks or API calls.
    routes: role === 'worker' ? 'health' : 'all',
    gitlab: { webhookSecret: config.gitlab.webhookSecret, intake, logger },
    api: { token: config.api.token, service, reader, environments, apps },
    deployments: {
      token: config.deployments?.token,
      environments,
      apps,
      record: deploymentReports.record,
      reported: service.deploymentReported,
      now,
    },
    readiness: {
      accepting: () => accepting,
      checks: {
        redis: async () => {
          try {
            await producer.ping();
            return { ok: true };
          } catch (error) {
            return { ok: false, reason: `Redis is not reachable: ${(error as Error).message}` };
          }
        },
        gitops: probeRemote,
      },
    },
  });

  return {
    app,
    async ready() {
      await whenConnected(producer, 5_000);
      await producer.ping();
    },
    async close() {
      accepting = false;
      for (const close of closers) await close().catch(() => undefined);
      await queue.close().catch(() => undefined);
      await gateQueue.close().catch(() => undefined);
      await producer.quit().catch(() => producer.disconnect());
    },
  };
}
