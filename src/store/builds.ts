import type { RedisClient } from './redis-client.js';
import { HoistError } from '../errors.js';

/**
 * Where a built tag came from: recorded when its pipeline is taken, so promotions further up the chain (manual, gated,
 * rollbacks) know the source commit, for commit statuses, GitLab deployments and the DORA lead time.
 */
export interface Build {
  /** The source project, `path_with_namespace`. */
  project: string;
  sha: string;
  ref?: string | undefined;
  /** The ref is a git tag (GitLab's deployment `tag` flag). */
  isTag?: boolean | undefined;
  pipelineId?: number | undefined;
  /** When the built commit was made (the Pipeline Hook's `commit.timestamp`). */
  commitTimestamp?: string | undefined;
}

export interface BuildIndex {
  record(app: string, tag: string, build: Build): Promise<void>;
  get(app: string, tag: string): Promise<Build | undefined>;
}

/** Long enough for a tag to travel the whole chain and be rolled back to months later. */
const BUILD_RETENTION_SECONDS = 180 * 24 * 3600;

export function createBuildIndex(redis: RedisClient, prefix: string): BuildIndex {
  // The key commit statuses have always used, so tags built before this index existed still resolve.
  const key = (app: string, tag: string) => `${prefix}:build:${app}:${tag}`;
  const unavailable = (cause: unknown): never => {
    throw new HoistError('unavailable', `Redis is not reachable: ${(cause as Error).message}`, { cause });
  };
  return {
    async record(app, tag, build) {
      // A rebuild of the same tag (a retried pipeline) is the same commit; the newest facts win.
      await redis.set(key(app, tag), JSON.stringify(build), 'EX', BUILD_RETENTION_SECONDS).catch(unavailable);
    },
    async get(app, tag) {
      const raw = await redis.get(key(app, tag)).catch(unavailable);
      if (!raw) return undefined;
      try {
        const build = JSON.parse(raw) as Build;
        return typeof build.project === 'string' && typeof build.sha === 'string' ? build : undefined;
      } catch {
        return undefined;
      }
    },
  };
}
