import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import type { Logger } from 'pino';
import type { HoistConfig } from './config/schema.js';
import { parseFreeze, parseWindow } from './domain/gates.js';
import type { App, Environment } from './domain/types.js';
import { splitCredentials, type GitSetup } from './gitops/git.js';
import { createRepoReader } from './gitops/reader.js';
import { createCommitVerifier } from './gitops/signed-history.js';
import { createSigningKeys } from './gitops/signing-keys.js';
import { createRemoteProbe } from './gitops/remote-probe.js';
import { createRenderCache } from './gitops/render-cache.js';
import { createWorkspace } from './gitops/workspace.js';
import { createPushWriter } from './gitops/writer.js';
import { createHttpApp } from './http/app.js';
import { createMetrics } from './observability/metrics.js';
import { createKustomizeRenderer, type Renderer } from './kustomize/index.js';
import { createRedisConnection, whenConnected } from './queue/connection.js';
import { createKeyedBatcher } from './queue/keyed-batch.js';
import { judgePersistence, PERSISTENCE_RISKS, readPersistenceSettings, type PersistenceWarning } from './queue/redis-persistence.js';
import { startWorker } from './queue/worker.js';
import { createPipelineIntake } from './service/pipeline-intake.js';
import { GATE_QUEUE, PROMOTION_QUEUE, type GateJob, type PromotionJob } from './service/promotion-job.js';
import { createPromotionService } from './service/promotions.js';
import { createDeploymentReports } from './store/deployment-reports.js';
import { createPromotionProcessor, type PromotionResult } from './service/promotion-processor.js';
import { createPromotionStore, type PromotionStore } from './store/promotion-store.js';
import { createReplayGuard } from './store/replay-guard.js';
import { createSigningKeyRecord } from './store/signing-key.js';
import { createArgoCdClient } from './argocd/client.js';
import { createGitlabApi } from './gitlab/api.js';
import { createApiWriter } from './gitops/api-writer.js';
import { createMergeRequestWriter, createRoutingWriter } from './gitops/merge-request-writer.js';
import { createCommitStatuses, observeStore } from './service/commit-statuses.js';
import { createDeployWatch } from './service/deploy-watch.js';
import { createMergeTracker } from './service/merge-requests.js';
import { DEPLOY_JOB, FOLLOWUP_QUEUE, followupJobSchema, type FollowupJob } from './service/promotion-job.js';
import type { Promotion } from './domain/types.js';

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
  /** Where a relative `gitops.signingKey` path starts (the config file's directory); default the working directory. */
  configDir?: string;
}

export type HoistRole = 'all' | 'web' | 'worker';

export interface Hoist {
  app: ReturnType<typeof createHttpApp>;
  /** Resolves once Redis answered; rejects with the connection error otherwise. */
  ready(): Promise<void>;
  /** From now on /readyz fails, so load balancers stop sending; everything else keeps working. */
  drain(): void;
  /**
   * Stop taking work, let running jobs finish (up to `timeoutMs`, then hand them back to the queue: their
   * locks lapse and another worker resumes them), close connections.
   */
  close(options?: { timeoutMs?: number }): Promise<void>;
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
        write: e.write,
        autoRollback: e.autoRollback,
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
  const rawStore = createPromotionStore(producer, prefix);
  const gitlabApi = config.gitlab.url && config.gitlab.token ? createGitlabApi({ url: config.gitlab.url, token: config.gitlab.token }) : undefined;
  const statuses = gitlabApi
    ? createCommitStatuses({ gitlab: gitlabApi, redis: producer, prefix, logger, gitlabUrl: config.gitlab.url as string, gitopsProject: config.gitops.project })
    : undefined;
  // Without GitLab there is nothing to report: the stores stay unwrapped.
  const observed = (target: PromotionStore, only?: ReadonlySet<Promotion['state']>) => (statuses ? observeStore(target, (p) => statuses.report(p), only) : target);
  // Pipeline promotions get their statuses from the worker alone, so one process posts them, in order.
  const store = observed(rawStore, new Set(['waiting', 'awaiting-approval', 'cancelled', 'superseded']));
  const followStore = observed(rawStore);
  const followups = new Queue<FollowupJob>(FOLLOWUP_QUEUE, { connection: producer, prefix, defaultJobOptions: { attempts: 3, backoff: { type: 'exponential', delay: 2_000 } } });
  followups.on('error', () => undefined);
  const gateQueue = new Queue<GateJob>(GATE_QUEUE, { connection: producer, prefix, defaultJobOptions: { attempts: 3, backoff: { type: 'exponential', delay: 1_000 } } });
  gateQueue.on('error', () => undefined);
  const deploymentReports = createDeploymentReports(producer, prefix);
  const now = options.now ?? (() => new Date());
  const intake = createPipelineIntake({ apps, environments, queue, store, logger });
  const signingKeys = createSigningKeys({
    configured: config.gitops.signingKey,
    trustedKeys: config.gitops.trustedKeys,
    record: createSigningKeyRecord(producer, prefix),
    baseDir: options.configDir ?? process.cwd(),
    logger,
  });
  // One verdict per commit for the whole process: reader and writer share it, and a commit is verified once.
  const verifier = createCommitVerifier({
    trustedKeys: () => signingKeys.trusted(),
    apiAuthor: environments.some((e) => e.write === 'api') ? config.gitops.author : undefined,
  });
  const apiPaths = environments.filter((e) => e.write === 'api').map((e) => e.path);
  const reader = createRepoReader({ ...gitSetup, dir: join(options.dataDir, 'read', `${repoKey}.git`), branch: config.gitops.branch, verifier, apiPaths });
  const deployWatch = createDeployWatch({
    argocd: config.argocd && {
      client: createArgoCdClient({ url: config.argocd.url, token: config.argocd.token }),
      applications: config.argocd.applications,
      watchTimeoutMs: config.argocd.watchTimeout,
    },
    environments,
    apps,
    reader,
    store: followStore,
    reports: deploymentReports,
    followups,
    logger,
    now,
    reported: (env, app) => service.deploymentReported(env, app),
    rollback: (p, why) => service.rollbackDegraded(p, why),
  });
  const afterCommit = async (p: Promotion) => {
    await service.afterCommit(p);
    await deployWatch.afterCommit(p);
  };
  const mergeTracker = createMergeTracker({ gitlab: gitlabApi, project: config.gitops.project, store: followStore, redis: producer, prefix, followups, logger, now, onCommitted: afterCommit, firstPollMs: Math.min(10_000, config.queue.gateInterval) });
  const probeRemote = createRemoteProbe({ ...gitSetup, dir: options.dataDir, branch: config.gitops.branch });
  const service = createPromotionService({
    environments,
    apps,
    rbac: config.rbac,
    store,
    queue,
    gateQueue,
    reader,
    health: deployWatch.health,
    logger,
    now,
    gateIntervalMs: config.queue.gateInterval,
    onGateWait: (env, gate) => metrics.gateWaits.inc({ env, gate }),
    onCancelled: (p) => mergeTracker.cancelled(p),
  });
  let accepting = true;
  // Read once Redis answers (ready()); /readyz shows them without turning unready.
  let persistenceWarnings: PersistenceWarning[] = [];

  const metrics = createMetrics();
  metrics.watchQueue(PROMOTION_QUEUE, () => queue.getJobCounts('waiting', 'active', 'delayed', 'completed', 'failed', 'prioritized', 'waiting-children'));
  metrics.watchQueue(GATE_QUEUE, () => gateQueue.getJobCounts('waiting', 'active', 'delayed', 'completed', 'failed'));
  const closers: Array<(timeoutMs: number) => Promise<unknown>> = [];
  if (role !== 'web') {
    const workerRedis = createRedisConnection(options.redisUrl, 'worker');
    const subscriber = createRedisConnection(options.redisUrl, 'worker');
    const workerStore = observed(createPromotionStore(workerRedis, prefix));
    // 100 ms: a burst of pipelines (one every 10 ms) lands in about ten commits instead of one per push cycle.
    const batcher = createKeyedBatcher({ redis: workerRedis, subscriber, prefix, lockTtlMs: lockTimeout, lingerMs: 100 });
    const workspace = createWorkspace({
      ...gitSetup,
      dir: join(options.dataDir, 'workspaces', repoKey),
      branch: config.gitops.branch,
      author: config.gitops.author,
      signingKey: () => signingKeys.signer(),
      verifier,
      now,
    });
    const renderer = options.renderer ?? createKustomizeRenderer();
    const pushWriter = createPushWriter({
      workspace,
      renderer,
      renderCache: createRenderCache(workspace),
      logger,
      onPushRetry: () => metrics.pushRetries.inc(),
    });
    const project = config.gitops.project;
    const writer = createRoutingWriter(
      {
        push: pushWriter,
        ...(gitlabApi && project
          ? {
              'merge-request': createMergeRequestWriter({ workspace, renderer, gitlab: gitlabApi, project, branch: config.gitops.branch, logger, gitEnv: options.gitBaseEnv }),
              api: createApiWriter({ gitlab: gitlabApi, project, branch: config.gitops.branch, author: config.gitops.author, logger }),
            }
          : {}),
      },
      (env) => environments.find((e) => e.name === env)?.write ?? 'push',
    );
    const process = createPromotionProcessor({
      store: workerStore,
      batcher,
      writer,
      repoKey,
      logger,
      onCommitted: afterCommit,
      onAwaitingMerge: (p) => mergeTracker.opened(p),
      onSettled: (p) => {
        metrics.promotions.inc({ env: p.env, result: p.state });
        if (p.state === 'committed') metrics.promotionDuration.observe({ env: p.env }, (Date.parse(p.updatedAt) - Date.parse(p.createdAt)) / 1000);
      },
    });
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
    const followupWorker = startWorker<FollowupJob, void>(
      FOLLOWUP_QUEUE,
      async (job) => {
        const data = followupJobSchema.parse(job.data);
        await (job.name === DEPLOY_JOB ? deployWatch.follow(data) : mergeTracker.follow(data));
      },
      { connection: createRedisConnection(options.redisUrl, 'worker'), prefix, concurrency: 8, lockDurationMs: lockTimeout },
    );
    followupWorker.on('error', (error) => logger.warn({ err: error.message }, 'follow-up worker error'));
    /**
     * Waits for running jobs up to the deadline, then lets go of them (their locks lapse and another worker
     * resumes them). BullMQ's close can stay pending for good when Redis went away and came back while the
     * worker was blocked on it (taskforcesh/bullmq#4656, #4585), and a second close() returns that same
     * promise, so the forced step drops the connections instead, and is bounded too.
     */
    const closeWorker = async (w: { close(): Promise<void>; disconnect(): Promise<void> }, timeoutMs: number) => {
      if (await within(w.close(), timeoutMs)) return;
      logger.warn({ timeoutMs }, 'running jobs did not finish in time; handing them back to the queue');
      await within(w.disconnect(), 2_000);
    };
    closers.push(
      // The three workers are independent: stop them side by side so the deadline is not paid three times.
      (timeoutMs) => Promise.all([closeWorker(gateWorker, timeoutMs), closeWorker(followupWorker, timeoutMs), closeWorker(worker, timeoutMs)]),
      () => batcher.close(),
      () => subscriber.quit().catch(() => subscriber.disconnect()),
      () => workerRedis.quit().catch(() => workerRedis.disconnect()),
    );
  }

  const app = createHttpApp({
    logger,
    // A worker-only process answers probes but takes no webhooks or API calls.
    routes: role === 'worker' ? 'health' : 'all',
    metrics: async () => ({ contentType: metrics.registry.contentType, body: await metrics.registry.metrics() }),
    gitlab: {
      webhookSecret: config.gitlab.webhookSecret,
      signingToken: config.gitlab.signingToken,
      intake,
      logger,
      // Merge Request Hooks matter only where merge requests are Hoist's (write: merge-request needs gitops.project).
      mergeRequests: config.gitops.project ? mergeTracker : undefined,
      now,
      onOutcome: (outcome) => metrics.webhooks.inc({ source: 'gitlab', outcome }),
    },
    argocd: { token: config.argocd?.webhookToken, logger, notice: (state) => deployWatch.notice(state) },
    api: { token: config.api.token, service, reader, environments, apps },
    chatops: {
      service,
      slack: config.chatops?.slack,
      mattermost: config.chatops?.mattermost,
      users: config.chatops?.users ?? {},
      replayGuard: createReplayGuard(producer, prefix),
      logger,
    },
    deployments: {
      token: config.deployments?.token,
      environments,
      apps,
      record: deploymentReports.record,
      reported: service.deploymentReported,
      degraded: (env, app, tag) => deployWatch.reportedDegraded(env, app, tag),
      now,
    },
    readiness: {
      accepting: () => accepting,
      warnings: () => persistenceWarnings.map((w) => ({ check: 'redis', ...w })),
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
      // A fresh volume has no data dir yet. One that cannot be made does not stop the start: /readyz names it
      // and turns ready once it can be made.
      await mkdir(options.dataDir, { recursive: true }).catch((error: unknown) =>
        logger.warn({ dataDir: options.dataDir, err: (error as Error).message }, 'cannot create the data directory yet'),
      );
      await whenConnected(producer, 5_000);
      await producer.ping();
      await signingKeys.ready();
      // A Redis that keeps nothing still queues jobs (the demo runs on one): warn, never refuse to start.
      const settings = await readPersistenceSettings(producer);
      persistenceWarnings = judgePersistence(settings);
      for (const risk of PERSISTENCE_RISKS) metrics.redisPersistenceRisk.set({ risk }, persistenceWarnings.some((w) => w.risk === risk) ? 1 : 0);
      for (const warning of persistenceWarnings) logger.warn({ risk: warning.risk, redis: settings }, warning.message);
      if (persistenceWarnings.length === 0) logger.info({ redis: settings }, 'Redis persistence checked: it keeps its data and never evicts keys');
    },
    drain() {
      accepting = false;
    },
    async close(closeOptions = {}) {
      accepting = false;
      const timeoutMs = closeOptions.timeoutMs ?? 25_000;
      // Every step is bounded: with Redis gone, a close that waits on it must not keep the process up.
      for (const close of closers) await within(close(timeoutMs), timeoutMs + 5_000);
      await within(Promise.all([queue.close(), gateQueue.close(), followups.close()]), 5_000);
      await within(statuses?.flush() ?? Promise.resolve(), 5_000);
      if (!(await within(producer.quit().catch(() => producer.disconnect()), 2_000))) producer.disconnect();
    },
  };
}

/** True when the promise settled within the time, false when the time ran out first (it is left to run). */
async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const settledInTime = await Promise.race([
    promise.then(
      () => true,
      () => true,
    ),
    new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms))),
  ]);
  clearTimeout(timer);
  return settledInTime;
}
