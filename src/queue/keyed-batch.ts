import { randomUUID } from 'node:crypto';
import type { RedisClient } from '../store/redis-client.js';

export interface BatchHooks {
  /** True once the member's work is done (by this caller or by whoever held the lock). */
  isSettled(member: string): Promise<boolean>;
  /** Runs with the key's lock held; should settle every member it is given or throw. */
  runBatch(members: string[]): Promise<void>;
}

export interface KeyedBatcher {
  /**
   * Registers `member` as pending under `key` and returns once it is settled. Whoever holds the key's
   * lock takes every pending member at once, so concurrent submitters across processes are serialised
   * per key and coalesced into batches.
   */
  submit(key: string, member: string, hooks: BatchHooks): Promise<void>;
  close(): Promise<void>;
}

export interface KeyedBatcherOptions {
  redis: RedisClient;
  /** A second connection for pub/sub wake-ups (a subscribed connection can run nothing else). */
  subscriber: RedisClient;
  prefix: string;
  lockTtlMs?: number;
  /** Fallback poll when no wake-up arrives (lost message, holder crashed). */
  pollMs?: number;
  maxBatch?: number;
  /**
   * When others are already waiting as the lock is taken (a burst is under way), wait this long for the rest
   * of it before running the batch, so a burst lands in fewer, larger commits. A lone member never waits.
   */
  lingerMs?: number;
}

const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;
const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end`;

export function createKeyedBatcher(options: KeyedBatcherOptions): KeyedBatcher {
  const { redis, subscriber, prefix } = options;
  const lockTtlMs = options.lockTtlMs ?? 30_000;
  const pollMs = options.pollMs ?? 250;
  const maxBatch = options.maxBatch ?? 200;
  const lingerMs = options.lingerMs ?? 0;
  const channel = `${prefix}:batch:wake`;
  const waiters = new Map<string, Set<() => void>>();
  let subscribed: Promise<unknown> | undefined;

  const onMessage = (ch: string, key: string) => {
    if (ch !== channel) return;
    const set = waiters.get(key);
    if (!set) return;
    waiters.delete(key);
    for (const wake of set) wake();
  };

  const waitForWake = (key: string): Promise<void> =>
    new Promise((resolve) => {
      const set = waiters.get(key) ?? new Set();
      waiters.set(key, set);
      const done = () => {
        clearTimeout(timer);
        set.delete(done);
        resolve();
      };
      const timer = setTimeout(done, pollMs);
      set.add(done);
    });

  const ensureSubscribed = () => {
    if (!subscribed) {
      subscriber.on('message', onMessage);
      subscribed = subscriber.subscribe(channel).catch((error: unknown) => {
        subscribed = undefined;
        throw error;
      });
    }
    return subscribed;
  };

  return {
    async submit(key, member, hooks) {
      await ensureSubscribed().catch(() => undefined); // polling still works without wake-ups
      const pendingKey = `${prefix}:batch:pending:${key}`;
      const lockKey = `${prefix}:batch:lock:${key}`;
      await redis.zadd(pendingKey, 'NX', String(Date.now()), member);
      for (;;) {
        if (await hooks.isSettled(member)) {
          await redis.zrem(pendingKey, member);
          return;
        }
        const token = randomUUID();
        const acquired = await redis.set(lockKey, token, 'PX', lockTtlMs, 'NX');
        if (acquired !== 'OK') {
          await waitForWake(key);
          continue;
        }
        const renew = setInterval(() => {
          redis.eval(RENEW, 1, lockKey, token, String(lockTtlMs)).catch(() => undefined);
        }, Math.max(1_000, Math.floor(lockTtlMs / 3)));
        try {
          let pending = await redis.zrange(pendingKey, '0', String(maxBatch - 1));
          if (lingerMs > 0 && pending.some((m) => m !== member) && pending.length < maxBatch) {
            await new Promise((resolve) => setTimeout(resolve, lingerMs));
            pending = await redis.zrange(pendingKey, '0', String(maxBatch - 1));
          }
          const members = pending.includes(member) ? pending : [member, ...pending.slice(0, maxBatch - 1)];
          await hooks.runBatch(members);
          await redis.zrem(pendingKey, ...members);
        } finally {
          clearInterval(renew);
          await redis.eval(RELEASE, 1, lockKey, token).catch(() => undefined);
          await redis.publish(channel, key).catch(() => undefined);
        }
      }
    },
    async close() {
      subscriber.off('message', onMessage);
      for (const set of waiters.values()) for (const wake of set) wake();
      waiters.clear();
    },
  };
}
