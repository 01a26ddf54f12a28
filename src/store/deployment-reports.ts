import type { RedisClient } from './redis-client.js';
import type { HealthSource } from '../domain/ports.js';
import { HoistError } from '../errors.js';
import { eventsKey, EVENTS_MAXLEN } from './events.js';

export interface DeploymentReport {
  environment: string;
  app: string;
  tag: string;
  status: 'deployed' | 'degraded';
  at: string;
}

/**
 * What deploy reports (POST /webhooks/deployments, Argo CD notifications) said last about each app in
 * each environment. A report about another tag says nothing about the one a gate asks for.
 */
export interface DeploymentReports extends HealthSource {
  record(report: DeploymentReport): Promise<void>;
  /** Remembers which promotion put an app's current version into an environment. */
  landed(env: string, app: string, promotionId: string): Promise<void>;
  /** The promotion that last landed the app in the environment, if Hoist landed it. */
  landedBy(env: string, app: string): Promise<string | undefined>;
  /** The last report of each (environment, app), keyed `env\0app`; one round trip for all. */
  latest(pairs: ReadonlyArray<readonly [env: string, app: string]>): Promise<Map<string, DeploymentReport>>;
}

const LANDED_RETENTION_SECONDS = 90 * 24 * 3600;

export function createDeploymentReports(redis: RedisClient, prefix: string): DeploymentReports {
  const key = (env: string, app: string) => `${prefix}:deployment:${env}:${app}`;
  const landedKey = (env: string, app: string) => `${prefix}:landed:${env}:${app}`;
  return {
    async landed(env, app, promotionId) {
      await redis.set(landedKey(env, app), promotionId, 'EX', LANDED_RETENTION_SECONDS);
    },
    async landedBy(env, app) {
      return (await redis.get(landedKey(env, app))) ?? undefined;
    },
    async record(report) {
      // The report and its change event in one round trip: the board shows health as it is reported.
      await redis
        .multi()
        .set(key(report.environment, report.app), JSON.stringify(report))
        .xadd(eventsKey(prefix), 'MAXLEN', '~', EVENTS_MAXLEN, '*', 'type', 'health', 'env', report.environment, 'app', report.app, 'tag', report.tag, 'status', report.status)
        .exec()
        .catch((cause: unknown) => {
          throw new HoistError('unavailable', `Redis is not reachable: ${(cause as Error).message}`, { cause });
        });
    },
    async latest(pairs) {
      const out = new Map<string, DeploymentReport>();
      if (pairs.length === 0) return out;
      const raws = await redis.mget(...pairs.map(([env, app]) => key(env, app))).catch((cause: unknown) => {
        throw new HoistError('unavailable', `Redis is not reachable: ${(cause as Error).message}`, { cause });
      });
      raws.forEach((raw, i) => {
        const [env, app] = pairs[i] as readonly [string, string];
        if (raw) out.set(`${env}\0${app}`, JSON.parse(raw) as DeploymentReport);
      });
      return out;
    },
    async status(env, app, tag) {
      const raw = await redis.get(key(env, app));
      if (!raw) return 'unknown';
      const report = JSON.parse(raw) as DeploymentReport;
      return report.tag === tag ? report.status : 'unknown';
    },
  };
}
