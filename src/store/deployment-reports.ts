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
export function createDeploymentReports(redis: Redis, prefix: string): HealthSource & { record(report: DeploymentReport): Promise<void> } {
  const key = (env: string, app: string) => `${prefix}:deployment:${env}:${app}`;
  return {
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
