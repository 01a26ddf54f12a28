import type { Redis } from 'ioredis';
import type { HealthSource } from '../domain/ports.js';
import { HoistError } from '../errors.js';

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
}

const LANDED_RETENTION_SECONDS = 90 * 24 * 3600;

export function createDeploymentReports(redis: Redis, prefix: string): DeploymentReports {
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
      await redis.set(key(report.environment, report.app), JSON.stringify(report)).catch((cause: unknown) => {
        throw new HoistError('unavailable', `Redis is not reachable: ${(cause as Error).message}`, { cause });
      });
    },
    async status(env, app, tag) {
      const raw = await redis.get(key(env, app));
      if (!raw) return 'unknown';
      const report = JSON.parse(raw) as DeploymentReport;
      return report.tag === tag ? report.status : 'unknown';
    },
  };
}
