import { randomUUID } from 'node:crypto';
import type { Queue } from 'bullmq';
import type { RedisClient } from '../store/redis-client.js';
import type { Logger } from 'pino';
import { itemsOf, type Environment, type Promotion } from '../domain/types.js';
import { HoistError, toHoistError } from '../errors.js';
import type { DeploymentStatus, EnvironmentTier, GitlabApi } from '../gitlab/api.js';
import type { BuildIndex } from '../store/builds.js';
import { createKeyedChains } from './keyed-chains.js';
import { GITLAB_DEPLOYMENT_JOB, type GitlabDeploymentJob, type GitlabFollowupJob } from './promotion-job.js';

/** How an environment shows in GitLab (config `gitlab.environments`). */
export interface GitlabEnvironmentSettings {
  name?: string | undefined;
  tier?: EnvironmentTier | undefined;
  externalUrl?: string | undefined;
}

export interface GitlabDeploymentsDeps {
  gitlab: GitlabApi;
  redis: RedisClient;
  prefix: string;
  builds: BuildIndex;
  environments: readonly Environment[];
  settings: Readonly<Record<string, GitlabEnvironmentSettings>>;
  /** Without a deploy side (Argo CD) a pushed commit is a successful deployment. */
  successOnCommit: boolean;
  followups: Queue<GitlabFollowupJob>;
  logger: Logger;
}

/** GitLab's tier from an environment's name, as GitLab itself guesses it for deploy jobs, a little narrower. */
export function guessTier(name: string): EnvironmentTier {
  if (/^(prod|production)$/i.test(name)) return 'production';
  if (/^staging$/i.test(name)) return 'staging';
  if (/^(dev|development)$/i.test(name)) return 'development';
  return 'other';
}

/** What one promotion's GitLab deployments should say now, given what the store holds. */
export function deploymentStatusOf(p: Promotion, successOnCommit: boolean): DeploymentStatus | undefined {
  if (p.state === 'degraded') return 'failed';
  if (p.state !== 'committed') return undefined;
  return p.health === 'healthy' || successOnCommit ? 'success' : 'running';
}

/** One GitLab deployment per app of a promotion, in that app's source project. */
interface DeploymentTarget {
  app: string;
  project: string;
  sha: string;
  ref: string;
  tag: boolean;
}

const RECORD_TTL_SECONDS = 90 * 24 * 3600;
/** Longer than one converge (three GitLab calls per app, each bounded at 30 s) takes. */
const LOCK_MS = 5 * 60_000;
/** A GitLab outage of an hour or two is caught up: 5 s doubling, about 85 minutes in all. */
const JOB_ATTEMPTS = 11;

/**
 * The promotion's desired status, moved only forward: running → success | failed | canceled; success → failed (it
 * degraded after it was healthy). A deployment is created (targets given) only by the first status; `canceled` never
 * creates one. Returns the new version, or nil when nothing changed.
 */
const DESIRE_SCRIPT = `
local current = redis.call('HGET', KEYS[1], 'desired')
local wanted = ARGV[1]
if current == wanted then return nil end
if current then
  if current == 'failed' or current == 'canceled' then return nil end
  if current == 'success' and wanted ~= 'failed' then return nil end
else
  if wanted == 'canceled' or ARGV[2] == '' then return nil end
  redis.call('HSET', KEYS[1], 'targets', ARGV[2], 'env', ARGV[4])
end
redis.call('HSET', KEYS[1], 'desired', wanted)
local version = redis.call('HINCRBY', KEYS[1], 'version', 1)
redis.call('EXPIRE', KEYS[1], ARGV[3])
return version
`;

/**
 * Files a landed promotion as the app's latest in the environment, unless a later one is filed already, and answers
 * which promotion was replaced: the previous latest, or this one when it came late (observers run side by side).
 */
const REPLACE_SCRIPT = `
local current = redis.call('GET', KEYS[1])
local replaced = nil
if current then
  local sep = string.find(current, '|', 1, true)
  local id, at = string.sub(current, 1, sep - 1), tonumber(string.sub(current, sep + 1))
  if id == ARGV[1] then return nil end
  if at > tonumber(ARGV[2]) then return ARGV[1] end
  replaced = id
end
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. ARGV[2], 'EX', ARGV[3])
return replaced
`;

const RELEASE_SCRIPT = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

/**
 * GitLab deployments for every promotion that lands: each app's source project gets a deployment to the environment
 * (created with its tier first if missing), whose status follows the truth: running when pushed, success when Argo CD
 * says Synced and Healthy (at once without Argo CD), failed when it degrades, canceled when a newer promotion replaces
 * it before it got healthy. Each promotion's desired status is kept in Redis and one follow-up job at a time converges
 * GitLab to it, so retries after a GitLab outage catch up in order and a promotion never waits for GitLab.
 */
export function createGitlabDeployments(deps: GitlabDeploymentsDeps) {
  const { gitlab, redis, prefix, logger } = deps;
  const key = (promotionId: string) => `${prefix}:gitlab-deployment:${promotionId}`;
  const lockKey = (promotionId: string) => `${prefix}:gitlab-deployment-lock:${promotionId}`;
  const lastKey = (env: string, app: string) => `${prefix}:gitlab-deployment-last:${env}:${app}`;
  const environmentKey = (project: string, name: string) => `${prefix}:gitlab-environment:${project}\n${name}`;
  const chains = createKeyedChains((id, error) => logger.warn({ promotionId: id, err: toHoistError(error).message }, 'could not queue the GitLab deployment update'));

  const environmentOf = (env: string) => {
    const settings = deps.settings[env] ?? {};
    return { name: settings.name ?? env, tier: settings.tier ?? guessTier(settings.name ?? env), externalUrl: settings.externalUrl };
  };

  const targetsOf = async (p: Promotion): Promise<DeploymentTarget[]> => {
    const out: DeploymentTarget[] = [];
    for (const item of itemsOf(p)) {
      const build = await deps.builds.get(item.app, item.tag);
      if (build) out.push({ app: item.app, project: build.project, sha: build.sha, ref: build.ref ?? 'HEAD', tag: build.isTag ?? false });
      else if (p.source.kind === 'pipeline' && item.app === p.app) out.push({ app: item.app, project: p.source.project, sha: p.source.sha, ref: p.source.ref, tag: false });
      else logger.info({ promotionId: p.id, app: item.app, tag: item.tag }, 'no GitLab deployment: Hoist never saw the pipeline that built this tag');
    }
    return out;
  };

  const desire = async (promotionId: string, status: DeploymentStatus, created?: { env: string; targets: readonly DeploymentTarget[] }) => {
    const targets = created && created.targets.length > 0 ? JSON.stringify(created.targets) : '';
    const version = await redis.eval(DESIRE_SCRIPT, 1, key(promotionId), status, targets, RECORD_TTL_SECONDS, created?.env ?? '');
    if (version === null) return;
    await deps.followups.add(
      GITLAB_DEPLOYMENT_JOB,
      { promotionId, version: Number(version) },
      { jobId: `gitlab-deployment-${promotionId}-${String(version)}`, attempts: JOB_ATTEMPTS, backoff: { type: 'exponential', delay: 5_000 }, removeOnComplete: true, removeOnFail: 100 },
    );
  };

  const handle = async (p: Promotion) => {
    const status = deploymentStatusOf(p, deps.successOnCommit);
    if (!status) return;
    const created = (await redis.hexists(key(p.id), 'desired')) === 1;
    await desire(p.id, status, created ? undefined : { env: p.env, targets: await targetsOf(p) });
    if (p.state !== 'committed') return;
    // A newer promotion of the app replaces whatever landed before it: one not yet healthy never will be.
    // When it was first seen landed, kept: later changes (its health) must not make it look newer than its successor.
    await redis.multi().hsetnx(key(p.id), 'landedAt', String(Date.now())).expire(key(p.id), RECORD_TTL_SECONDS).exec();
    const landedAt = Number(await redis.hget(key(p.id), 'landedAt')) || 0;
    for (const item of itemsOf(p)) {
      const replaced = (await redis.eval(REPLACE_SCRIPT, 1, lastKey(p.env, item.app), p.id, landedAt, RECORD_TTL_SECONDS)) as string | null;
      if (replaced) await desire(replaced, 'canceled');
    }
  };

  /** Finds or creates the environment in the project, once per project and name (remembered in Redis). */
  const ensureEnvironment = async (project: string, env: string) => {
    const wanted = environmentOf(env);
    if ((await redis.exists(environmentKey(project, wanted.name))) === 1) return wanted.name;
    if (!(await gitlab.findEnvironment({ project, name: wanted.name }))) {
      try {
        await gitlab.createEnvironment({ project, name: wanted.name, tier: wanted.tier, externalUrl: wanted.externalUrl });
      } catch (error) {
        // Someone (or another Hoist) made it in between: GitLab says the name is taken.
        if (!(toHoistError(error).code === 'bad_request' && (await gitlab.findEnvironment({ project, name: wanted.name })))) throw error;
      }
    }
    await redis.set(environmentKey(project, wanted.name), '1', 'EX', RECORD_TTL_SECONDS);
    return wanted.name;
  };

  /** Makes GitLab say what the record desires, for every app; loops while the desire moves on underneath. */
  const converge = async (promotionId: string, env: string) => {
    for (let round = 0; round < 5; round++) {
      const record = await redis.hgetall(key(promotionId));
      const desired = record.desired as DeploymentStatus | undefined;
      if (!desired || !record.targets) return;
      const targets = JSON.parse(record.targets) as DeploymentTarget[];
      for (const t of targets) {
        if (record[`reported:${t.app}`] === desired) continue;
        const id = record[`deployment:${t.app}`];
        if (id === undefined) {
          const environment = await ensureEnvironment(t.project, env);
          const deployment = await gitlab.createDeployment({ project: t.project, environment, sha: t.sha, ref: t.ref, tag: t.tag, status: desired });
          await redis.hset(key(promotionId), `deployment:${t.app}`, String(deployment.id), `reported:${t.app}`, desired);
          logger.info({ promotionId, app: t.app, project: t.project, environment, deployment: deployment.id, status: desired }, 'GitLab deployment created');
        } else {
          await gitlab.updateDeployment({ project: t.project, id: Number(id), status: desired });
          await redis.hset(key(promotionId), `reported:${t.app}`, desired);
          logger.info({ promotionId, app: t.app, project: t.project, deployment: Number(id), status: desired }, 'GitLab deployment updated');
        }
      }
      if ((await redis.hget(key(promotionId), 'version')) === record.version) return;
    }
  };

  return {
    /** Told about every promotion the store writes (observeStore); never blocks or fails the write. */
    observe(p: Promotion): void {
      if (deploymentStatusOf(p, deps.successOnCommit)) chains.run(p.id, () => handle(p));
    },

    flush: () => chains.flush(),

    /** One follow-up job: converge the promotion's deployments, one job per promotion at a time. */
    async follow(job: GitlabDeploymentJob): Promise<void> {
      const env = await redis.hget(key(job.promotionId), 'env');
      if (!env) return;
      const token = randomUUID();
      if ((await redis.set(lockKey(job.promotionId), token, 'PX', LOCK_MS, 'NX')) !== 'OK') {
        // Another job is converging this promotion; this one runs again after a backoff, by then to converge the rest.
        throw new HoistError('conflict', `the GitLab deployments of promotion ${job.promotionId} are being updated`, { retryable: true });
      }
      try {
        await converge(job.promotionId, env);
      } catch (error) {
        const e = toHoistError(error);
        logger.warn({ promotionId: job.promotionId, err: e.message, retryable: e.retryable }, 'could not update the GitLab deployment');
        throw e;
      } finally {
        await redis.eval(RELEASE_SCRIPT, 1, lockKey(job.promotionId), token).catch(() => undefined);
      }
    },
  };
}

export type GitlabDeployments = ReturnType<typeof createGitlabDeployments>;
