import type { RedisClient } from './redis-client.js';
import { HoistError } from '../errors.js';

/** The signing key Hoist made itself, kept in Redis so every replica signs and verifies with the same one. */
export interface SigningKeyRecord {
  /** The stored key; `make()`'s when none is stored yet (the first replica to store one wins). */
  ensure(make: () => string): Promise<{ text: string; created: boolean }>;
}

export function createSigningKeyRecord(redis: RedisClient, prefix: string): SigningKeyRecord {
  const key = `${prefix}:signing-key`;
  const unavailable = (cause: unknown): never => {
    throw new HoistError('unavailable', `Redis is not reachable: ${(cause as Error).message}`, { cause });
  };
  return {
    async ensure(make) {
      const existing = await redis.get(key).catch(unavailable);
      if (existing) return { text: existing, created: false };
      const made = make();
      if ((await redis.set(key, made, 'NX').catch(unavailable)) === 'OK') return { text: made, created: true };
      const winner = await redis.get(key).catch(unavailable);
      if (!winner) throw new HoistError('unavailable', 'the signing key vanished from Redis while it was being stored; try again');
      return { text: winner, created: false };
    },
  };
}
