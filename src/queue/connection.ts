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
