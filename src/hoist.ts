import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { Queue } from 'bullmq';
import { createIdentity } from './auth/identity.js';
import { createOidcClient } from './auth/oidc.js';
import type { Logger } from 'pino';
import type { HoistConfig } from './config/schema.js';
import { parseFreeze, parseWindow } from './domain/gates.js';
import { targetOf, type App, type Environment } from './domain/types.js';
import { HoistError } from './errors.js';
import { createFleet, type RepoConfig } from './gitops/fleet.js';
import { createCommitVerifier } from './gitops/signed-history.js';
import { createSigningKeys } from './gitops/signing-keys.js';
import { createHttpApp } from './http/app.js';
import { createBoard } from './web/board.js';
import { createMetrics } from './observability/metrics.js';
import { createKustomizeRenderer, type Renderer } from './kustomize/index.js';
import { createRedisConnection, keyPrefixFor, redisKind, whenConnected, type RedisClient } from './queue/connection.js';
import { createKeyedBatcher } from './queue/keyed-batch.js';
import { judgeNodes, PERSISTENCE_RISKS, readPersistence, type PersistenceWarning } from './queue/redis-persistence.js';
import { createReplicaBarrier } from './queue/replica-barrier.js';
import { startWorker } from './queue/worker.js';
import { createPipelineIntake } from './service/pipeline-intake.js';
import { GATE_QUEUE, PROMOTION_QUEUE, type GateJob, type PromotionJob } from './service/promotion-job.js';
import { createApiTokenService } from './service/api-tokens.js';
import { createOverview } from './service/overview.js';
import { createPromotionService } from './service/promotions.js';
import { createDeploymentReports } from './store/deployment-reports.js';
import { createPromotionProcessor, type PromotionResult } from './service/promotion-processor.js';
import { createPromotionStore, type PromotionStore } from './store/promotion-store.js';
import { createReplayGuard } from './store/replay-guard.js';
import { createSigningKeyRecord } from './store/signing-key.js';
import { createApiTokenStore } from './store/api-tokens.js';
import { createEventLog } from './store/events.js';
import { createSessionStore } from './store/sessions.js';
import { createArgoCdClient } from './argocd/client.js';
import { createGitlabApi } from './gitlab/api.js';
import { createCommitStatuses, observeStore } from './service/commit-statuses.js';
import { createDeployWatch } from './service/deploy-watch.js';
import { createRolloutWatch, ROLLOUT_JOB, rolloutJobSchema, withRolloutCells, withRollouts, type RolloutJob } from './service/rollout-watch.js';
import { createRolloutRecords } from './store/rollouts.js';
import { createMergeTracker } from './service/merge-requests.js';
import { DEPLOY_JOB, FOLLOWUP_QUEUE, followupJobSchema, type FollowupJob } from './service/promotion-job.js';
import { GITLAB_DEPLOYMENT_JOB, GITLAB_NOTE_JOB, gitlabDeploymentJobSchema, gitlabNoteJobSchema, type GitlabFollowupJob } from './service/promotion-job.js';
import { createDora } from './service/dora.js';
import { createGitlabComments } from './service/gitlab-comments.js';
import { createGitlabDeployments } from './service/gitlab-deployments.js';
import { createBuildIndex } from './store/builds.js';
import { createPushedHeads } from './store/pushed-heads.js';
import { createDoraRecords } from './store/dora-records.js';
import { needsDigest } from './domain/digest-pins.js';
import { createRegistryClient } from './registry/client.js';
import { createDigestPins, withDigestPreview } from './service/digest-pins.js';
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

/** The GitOps repositories by name: the single `gitops.url` form is the repository `default`. */
export function reposOf(config: HoistConfig): Map<string, RepoConfig & { signingKey?: string | undefined }> {
  const repos = new Map<string, RepoConfig & { signingKey?: string | undefined }>();
  if (config.gitops.url) repos.set('default', { name: 'default', url: config.gitops.url, branch: config.gitops.branch, project: config.gitops.project });
  for (const [name, r] of Object.entries(config.gitops.repos ?? {})) repos.set(name, { name, url: r.url, branch: r.branch, project: r.project, signingKey: r.signingKey });
  return repos;
}

function toDomain(config: HoistConfig): { environments: Environment[]; apps: App[] } {
  const repos = reposOf(config);
  const branchOf = (repo: string, own: string | undefined) => own ?? repos.get(repo)?.branch ?? config.gitops.branch;
  const firstRepo = repos.keys().next().value ?? 'default';
  const environments = config.environments.map((e): Environment => {
    const window = e.gates?.window ? parseWindow(e.gates.window) : undefined;
    const repo = e.repo ?? (repos.has('default') ? 'default' : firstRepo);
    return {
      name: e.name,
      path: e.path,
      target: { repo, branch: branchOf(repo, e.branch) },
      promotion: e.promotion,
      from: e.from,
      pending: e.pending,
      write: e.write,
      autoRollback: e.autoRollback,
      pin: e.pin,
      verifyTag: e.verifyTag,
      watchMs: e.watch,
      rollout: e.rollout?.autoPromote ? { autoPromote: { afterMs: e.rollout.autoPromote.after, healthy: e.rollout.autoPromote.healthy } } : undefined,
      approvals: e.approvals,
      gates: e.gates && {
        soakMs: e.gates.soak,
        healthy: e.gates.healthy,
        window,
        // Freeze dates are calendar days in the window's time zone (UTC without a window).
        freeze: e.gates.freeze?.map((f) => parseFreeze(f, window?.timeZone)),
      },
    };
  });
  return {
    environments,
    apps: config.apps.map(({ repos: overrides, ...a }) => ({
      ...a,
      ...(overrides
        ? { targets: Object.fromEntries(Object.entries(overrides).map(([env, repo]) => [env, { repo, branch: branchOf(repo, config.environments.find((x) => x.name === env)?.branch) }])) }
        : {}),
    })),
  };
}

/** Wires every part from config; the only place that knows them all. */
export function createHoist(options: HoistOptions): Hoist {
  const { config, logger } = options;
  const { attempts, lockTimeout } = config.queue;
  // Every key below, Hoist's and BullMQ's, derives from this one prefix: on a cluster it is the hash tag `{hoist}`.
  const prefix = keyPrefixFor(config.queue.prefix, options.redisUrl);
  const role = options.role ?? 'all';
  const { environments, apps } = toDomain(config);

  const producer = createRedisConnection(options.redisUrl, 'producer');
  // Cluster and Sentinel fail over to a replica that may lack the newest writes: there a 202 waits until one has them.
  // One Redis answers as before (its AOF is what keeps accepted work).
  const barrierRedis = redisKind(options.redisUrl) === 'single' ? undefined : createRedisConnection(options.redisUrl, 'producer');
  let warnedAlone = false;
  const barrier = barrierRedis
    ? createReplicaBarrier({
        redis: barrierRedis,
        key: `${prefix}:replicated`,
        timeoutMs: 1_000,
        onAlone: () => {
          if (warnedAlone) return;
          warnedAlone = true;
          logger.warn('the Redis master has no replica connected: accepted promotions live on one node until a replica is back');
        },
      })
    : undefined;
  const queue = new Queue<PromotionJob>(PROMOTION_QUEUE, {
    connection: producer,
    prefix,
    defaultJobOptions: { attempts, backoff: { type: 'exponential', delay: 1_000 } },
  });
  queue.on('error', () => undefined);
  const rawStore = createPromotionStore(producer, prefix);
  const gitlabApi = config.gitlab.url && config.gitlab.token ? createGitlabApi({ url: config.gitlab.url, token: config.gitlab.token }) : undefined;
  const builds = createBuildIndex(producer, prefix);
  const statuses = gitlabApi ? createCommitStatuses({ gitlab: gitlabApi, builds, logger, gitlabUrl: config.gitlab.url as string, gitopsProject: config.gitops.project }) : undefined;
  // DORA records, GitLab deployments and comment answers follow every state change, whichever process writes it.
  const landings: Array<{ observe(p: Promotion): void; flush(): Promise<void> }> = [];
  const observed = (target: PromotionStore, only?: ReadonlySet<Promotion['state']>) =>
    observeStore(statuses ? observeStore(target, (p) => statuses.report(p), only) : target, (p) => {
      for (const listener of landings) listener.observe(p);
    });
  // Pipeline promotions get their statuses from the worker alone, so one process posts them, in order.
  const store = observed(rawStore, new Set(['waiting', 'awaiting-approval', 'cancelled', 'superseded']));
  const followStore = observed(rawStore);
  const followups = new Queue<FollowupJob>(FOLLOWUP_QUEUE, { connection: producer, prefix, defaultJobOptions: { attempts: 3, backoff: { type: 'exponential', delay: 2_000 } } });
  followups.on('error', () => undefined);
  const gateQueue = new Queue<GateJob>(GATE_QUEUE, { connection: producer, prefix, defaultJobOptions: { attempts: 3, backoff: { type: 'exponential', delay: 1_000 } } });
  gateQueue.on('error', () => undefined);
  const deploymentReports = createDeploymentReports(producer, prefix);
  const now = options.now ?? (() => new Date());
  const intake = createPipelineIntake({ apps, environments, queue, store, builds, logger });
  const signingKeys = createSigningKeys({
    configured: config.gitops.signingKey,
    trustedKeys: config.gitops.trustedKeys,
    record: createSigningKeyRecord(producer, prefix),
    baseDir: options.configDir ?? process.cwd(),
    logger,
  });
  // One verdict per commit for the whole process: reader and writer share it, and a commit is verified once.
  const verifier = createCommitVerifier({
    // Every key Hoist signs any of its repositories with, and the rotated ones.
    trustedKeys: async () => [...(await signingKeys.trusted()), ...(await Promise.all([...repoKeys.values()].map((k) => k.trusted()))).flat()],
    apiAuthor: environments.some((e) => e.write === 'api') ? config.gitops.author : undefined,
  });
  const repos = reposOf(config);
  // A repository with a key of its own signs with it; the rest with gitops.signingKey (or Hoist's own from Redis).
  const repoKeys = new Map(
    [...repos.values()].flatMap((r) => (r.signingKey ? [[r.name, createSigningKeys({ configured: r.signingKey, trustedKeys: [], record: createSigningKeyRecord(producer, prefix), baseDir: options.configDir ?? process.cwd(), logger })] as const] : [])),
  );
  const fleet = createFleet({
    repos,
    environments,
    apps,
    dataDir: options.dataDir,
    gitBaseEnv: options.gitBaseEnv,
    author: config.gitops.author,
    verifier,
    signerFor: (repo) => () => (repoKeys.get(repo) ?? signingKeys).signer(),
    renderer: () => (renderer ??= options.renderer ?? createKustomizeRenderer()),
    gitlab: gitlabApi,
    now,
    logger,
    onPushRetry: () => metrics.pushRetries.inc(),
    pushedHeads: createPushedHeads(producer, prefix),
  });
  let renderer: Renderer | undefined;
  const reader = fleet.reader;
  const concurrency = config.queue.concurrency ?? Math.min(1_000, 32 * fleet.targets.length);
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
    rollouts: { refine: (input) => rolloutWatch.refine(input), takeOver: (p, healthy) => rolloutWatch.takeOver(p, healthy) },
  });
  // Argo Rollouts, and the watch window after a version turned healthy: rounds of their own on the follow-up queue.
  const rolloutFollowups = new Queue<RolloutJob>(FOLLOWUP_QUEUE, { connection: producer, prefix });
  rolloutFollowups.on('error', () => undefined);
  const rolloutWatch = createRolloutWatch({
    argocd: config.argocd && { client: createArgoCdClient({ url: config.argocd.url, token: config.argocd.token }), applications: config.argocd.applications, watchTimeoutMs: config.argocd.watchTimeout },
    environments,
    apps,
    rbac: config.rbac,
    store: followStore,
    records: createRolloutRecords(producer, prefix),
    reports: deploymentReports,
    followups: rolloutFollowups,
    logger,
    now,
    judge: (state) => deployWatch.notice(state),
    rollback: (input, actor) => service.rollback(input, actor),
  });
  const afterCommit = async (p: Promotion) => {
    await service.afterCommit(p);
    await rolloutWatch.landed(p);
    await deployWatch.afterCommit(p);
  };
  const mergeTracker = createMergeTracker({ gitlab: gitlabApi, project: config.gitops.project, store: followStore, redis: producer, prefix, followups, logger, now, onCommitted: afterCommit, firstPollMs: Math.min(10_000, config.queue.gateInterval) });
  // The board's Promote dialog and `hoist diff` render on clones of their own (the writers' are the lock holders').
  // pin: digest and verifyTag ask a registry, the worker before each write and the previews alike; one client, so
  // its tokens are shared.
  const digestPins = environments.some(needsDigest)
    ? createDigestPins({ environments, registry: createRegistryClient({ registries: config.registries ?? {} }), reader, logger })
    : undefined;
  const previewer = role === 'worker' ? undefined : digestPins ? withDigestPreview(fleet.previewer, digestPins) : fleet.previewer;
  const service = withRollouts(createPromotionService({
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
    previewer,
  }), rolloutWatch);
  const overview = withRolloutCells(createOverview({ environments, apps, reader, reports: deploymentReports, service }), rolloutWatch);
  const dora = createDora({
    records: createDoraRecords(producer, prefix),
    builds,
    environments,
    apps,
    failureWindowMs: config.dora?.failureWindow ?? 3_600_000,
    healthyOnCommit: !config.argocd,
    metrics: {
      deployed: (env) => metrics.deployments.inc({ env }),
      failed: (env) => metrics.deploymentFailures.inc({ env }),
      leadTime: (env, seconds) => metrics.leadTime.observe({ env }, seconds),
    },
    logger,
    now,
  });
  landings.push(dora);
  // GitLab deployments and comments are follow-up jobs too, on a queue handle of their own job types.
  const gitlabFollowups = new Queue<GitlabFollowupJob>(FOLLOWUP_QUEUE, { connection: producer, prefix });
  gitlabFollowups.on('error', () => undefined);
  const gitlabDeployments = gitlabApi
    ? createGitlabDeployments({ gitlab: gitlabApi, redis: producer, prefix, builds, environments, settings: config.gitlab.environments ?? {}, successOnCommit: !config.argocd, followups: gitlabFollowups, logger })
    : undefined;
  const gitlabComments = gitlabApi
    ? createGitlabComments({ gitlab: gitlabApi, service, builds, store: rawStore, redis: producer, prefix, apps, environments, gitopsProject: config.gitops.project, followups: gitlabFollowups, logger })
    : undefined;
  for (const listener of [gitlabDeployments, gitlabComments]) if (listener) landings.push(listener);
  const auth = config.auth;
  const sessions = createSessionStore(producer, prefix, now);
  const tokens = createApiTokenStore(producer, prefix, now);
  const apiTokens = createApiTokenService(tokens, now);
  const identity = createIdentity({ apiToken: config.api.token, trustUserHeader: config.api.trustUserHeader, sessions, tokens });
  // The demo's sessions need no secret of the config's: a random one for this process (a restart signs people out).
  const cookies = auth && (auth.oidc || auth.demo) ? { secret: auth.sessionSecret ?? randomBytes(32).toString('hex'), secure: auth.publicUrl?.startsWith('https://') ?? false } : undefined;
  const oidc = auth?.oidc
    ? createOidcClient({
        ...auth.oidc,
        redirectUri: new URL('/auth/callback', auth.publicUrl).href,
        allowHttp: auth.oidc.issuer.startsWith('http://'),
      })
    : undefined;
  const eventReaders: RedisClient[] = [];
  const events = createEventLog(producer, () => {
    const connection = createRedisConnection(options.redisUrl, 'worker');
    eventReaders.push(connection);
    return connection;
  }, prefix);
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
    const process = createPromotionProcessor({
      store: workerStore,
      batcher,
      writerFor: fleet.writerFor,
      targetOf: (env, app) => {
        const e = environments.find((x) => x.name === env);
        const a = apps.find((x) => x.name === app);
        if (!e) throw new HoistError('bad_request', `environment ${env} is not configured any more`, { retryable: false });
        return a ? targetOf(e, a) : e.target;
      },
      logger,
      onCommitted: afterCommit,
      onAwaitingMerge: (p) => mergeTracker.opened(p),
      onSettled: (p) => {
        metrics.promotions.inc({ env: p.env, result: p.state });
        if (p.state === 'committed') metrics.promotionDuration.observe({ env: p.env }, (Date.parse(p.updatedAt) - Date.parse(p.createdAt)) / 1000);
      },
      digests: digestPins,
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
        if (job.name === GITLAB_DEPLOYMENT_JOB) return gitlabDeployments?.follow(gitlabDeploymentJobSchema.parse(job.data));
        if (job.name === GITLAB_NOTE_JOB) return gitlabComments?.post(gitlabNoteJobSchema.parse(job.data));
        if (job.name === ROLLOUT_JOB) return rolloutWatch.round(rolloutJobSchema.parse(job.data));
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
    acceptance: barrier && (() => barrier.confirm()),
    metrics: async () => ({ contentType: metrics.registry.contentType, body: await metrics.registry.metrics() }),
    gitlab: {
      webhookSecret: config.gitlab.webhookSecret,
      signingToken: config.gitlab.signingToken,
      intake,
      logger,
      // Merge Request Hooks matter only where merge requests are Hoist's (write: merge-request needs gitops.project).
      mergeRequests: config.gitops.project ? mergeTracker : undefined,
      comments: gitlabComments,
      now,
      onOutcome: (outcome) => metrics.webhooks.inc({ source: 'gitlab', outcome }),
    },
    argocd: { token: config.argocd?.webhookToken, logger, notice: async (state) => rolloutWatch.noticed(await deployWatch.notice(state)) },
    identity,
    cookies,
    signIn: { oidc, demo: auth?.demo ?? false, sessions, sessionTtlMs: auth?.sessionTtl ?? 12 * 3600_000, publicUrl: auth?.publicUrl, logger },
    api: { service, overview, tokens: apiTokens, events, reader, environments, apps, dora },
    board: ({ cookies: sessionCookies }) =>
      createBoard({
        service,
        overview,
        tokens: apiTokens,
        dora,
        environments,
        apps,
        cookies: sessionCookies,
        signIn: auth?.demo ? { kind: 'demo' } : auth?.oidc ? { kind: 'oidc', issuer: new URL(auth.oidc.issuer).host } : { kind: 'off' },
        now,
      }),
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
            // On a cluster PING reaches any node; a read of Hoist's slot asks the master that holds its keys.
            await (redisKind(options.redisUrl) === 'cluster' ? producer.exists(`${prefix}:replicated`) : producer.ping());
            return { ok: true };
          } catch (error) {
            return { ok: false, reason: `Redis is not reachable: ${(error as Error).message}` };
          }
        },
        ...fleet.probes(),
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
      if (barrierRedis) await whenConnected(barrierRedis, 5_000);
      await signingKeys.ready();
      // A Redis that keeps nothing still queues jobs (the demo runs on one): warn, never refuse to start.
      const settings = await readPersistence(producer);
      persistenceWarnings = judgeNodes(settings);
      for (const risk of PERSISTENCE_RISKS) metrics.redisPersistenceRisk.set({ risk }, persistenceWarnings.some((w) => w.risk === risk) ? 1 : 0);
      const logged = settings.length === 1 ? settings[0]?.settings : settings;
      for (const warning of persistenceWarnings) logger.warn({ risk: warning.risk, redis: logged }, warning.message);
      if (persistenceWarnings.length === 0) logger.info({ redis: logged }, 'Redis persistence checked: it keeps its data and never evicts keys');
    },
    drain() {
      accepting = false;
    },
    async close(closeOptions = {}) {
      accepting = false;
      const timeoutMs = closeOptions.timeoutMs ?? 25_000;
      // Every step is bounded: with Redis gone, a close that waits on it must not keep the process up.
      for (const close of closers) await within(close(timeoutMs), timeoutMs + 5_000);
      await events.close();
      for (const connection of eventReaders) connection.disconnect();
      await within(Promise.all(landings.map((l) => l.flush())), 5_000);
      await within(Promise.all([queue.close(), gateQueue.close(), followups.close(), gitlabFollowups.close(), rolloutFollowups.close()]), 5_000);
      await within(statuses?.flush() ?? Promise.resolve(), 5_000);
      if (!(await within(producer.quit().catch(() => producer.disconnect()), 2_000))) producer.disconnect();
      if (barrierRedis && !(await within(barrierRedis.quit().catch(() => barrierRedis.disconnect()), 2_000))) barrierRedis.disconnect();
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
