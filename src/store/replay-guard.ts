import type { RedisClient } from './redis-client.js';
import { HoistError } from '../errors.js';

/**
 * Remembers signed requests that were already taken, so a captured one cannot be sent again while its
 * timestamp is still inside the window. In Redis, so every replica refuses the replay, not only the one
 * that saw the original.
 */
export interface ReplayGuard {
  /**
   * True the first time `key` is seen within `ttlSeconds`, false for every later time. One `SET NX EX`:
   * two replicas racing on the same request cannot both win. Rejects with `unavailable` when Redis does not answer.
   */
  firstUse(key: string, ttlSeconds: number): Promise<boolean>;
}

export function createReplayGuard(redis: RedisClient, prefix: string): ReplayGuard {
  return {
    async firstUse(key, ttlSeconds) {
      const ttl = Math.max(1, Math.ceil(ttlSeconds));
      const answer = await redis.set(`${prefix}:replay:${key}`, '1', 'EX', ttl, 'NX').catch((cause: unknown) => {
        throw new HoistError('unavailable', `Redis is not reachable, so a replayed request cannot be told apart: ${(cause as Error).message}`, { cause });
      });
      return answer === 'OK';
    },
  };
}
