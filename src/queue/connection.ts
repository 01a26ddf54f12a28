import { Redis, type RedisOptions } from 'ioredis';

export type ConnectionRole = 'producer' | 'worker' | 'client';

/**
 * BullMQ's advice: the producer side fails fast (a webhook must get 503, not hang), the worker side
 * retries forever (maxRetriesPerRequest: null) so workers ride out a Redis restart.
 */
export function createRedisConnection(url: string, role: ConnectionRole, extra: RedisOptions = {}): Redis {
  const common: RedisOptions = { lazyConnect: true, connectionName: `hoist-${role}`, ...extra };
  const options: RedisOptions =
    role === 'worker'
      ? { ...common, maxRetriesPerRequest: null, enableOfflineQueue: true }
      : { ...common, maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 2_000, commandTimeout: 2_000 };
  const redis = new Redis(url, options);
  // Errors surface through commands and readiness; without a listener ioredis would print every reconnect attempt.
  redis.on('error', () => undefined);
  return redis;
}

/** redis://user:secret@host → redis://user:***@host, for messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.href;
  } catch {
    return url.replace(/\/\/[^@/]*@/, '//***@');
  }
}

/** Waits for a lazily connecting client (BullMQ may already have started it) or its first failure. */
export async function whenConnected(redis: Redis, timeoutMs: number): Promise<void> {
  if (redis.status === 'ready') return;
  if (redis.status === 'wait') redis.connect().catch(() => undefined);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error(`no answer within ${timeoutMs / 1000} s`)), timeoutMs);
    const onReady = () => finish();
    const onError = (error: Error) => finish(error);
    function finish(error?: Error) {
      clearTimeout(timer);
      redis.off('ready', onReady);
      redis.off('error', onError);
      if (error) reject(error);
      else resolve();
    }
    redis.on('ready', onReady);
    redis.on('error', onError);
  });
}

/** Connects once, pings, disconnects: the start-up check that runs before anything else touches Redis. */
export async function checkRedis(url: string, timeoutMs = 5_000): Promise<void> {
  const redis = createRedisConnection(url, 'client', { retryStrategy: () => null });
  try {
    await whenConnected(redis, timeoutMs);
    await redis.ping();
  } finally {
    redis.disconnect();
  }
}
