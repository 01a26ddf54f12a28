import type { RedisClient } from './redis-client.js';

/**
 * The commit Hoist last pushed to each repository and branch, shared by every worker process. A worker whose clone
 * is at the head it pushed itself skips the fetch before its next commit; when another worker pushed since, this
 * says so, and it fetches first instead of building a commit on a stale head that the push's lease then refuses.
 * Only a hint: a lost or stale entry costs that refused push, never a wrong commit (the lease still decides).
 */
export interface PushedHeads {
  read(target: string): Promise<string | undefined>;
  record(target: string, commit: string): Promise<void>;
}

/** A day: a target idle for longer fetches before its next commit anyway, as after a restart. */
const TTL_SECONDS = 86_400;

export function createPushedHeads(redis: RedisClient, prefix: string): PushedHeads {
  const key = (target: string) => `${prefix}:pushed-head:${target}`;
  return {
    async read(target) {
      return (await redis.get(key(target)).catch(() => null)) ?? undefined;
    },
    async record(target, commit) {
      await redis.set(key(target), commit, 'EX', TTL_SECONDS).catch(() => undefined);
    },
  };
}
