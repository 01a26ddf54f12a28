import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { parseRedisUrl, redactRedisUrl, type RedisTarget } from '../config/redis-url.js';
import type { RedisClient } from '../store/redis-client.js';

export type { RedisClient } from '../store/redis-client.js';
export type ConnectionRole = 'producer' | 'worker' | 'client';

/** The options every connection of one role gets, whatever it connects to. */
function roleOptions(role: ConnectionRole, extra: RedisOptions): RedisOptions {
  const common: RedisOptions = { lazyConnect: true, connectionName: `hoist-${role}`, ...extra };
  return role === 'worker'
    ? { ...common, maxRetriesPerRequest: null, enableOfflineQueue: true }
    : { ...common, maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 2_000, commandTimeout: 2_000 };
}

/** A Sentinel-watched master that was demoted answers READONLY: reconnect (Sentinel names the new one) and resend. */
const reconnectOnReadonly = (error: Error) => (error.message.startsWith('READONLY') ? 2 : false);

function open(target: RedisTarget, role: ConnectionRole, options: RedisOptions): RedisClient {
  if (target.kind === 'single') return new Redis(target.url, options);
  if (target.kind === 'sentinel') {
    return new Redis({
      ...options,
      sentinels: target.sentinels,
      name: target.name,
      db: target.db,
      ...target.auth,
      ...(target.sentinelAuth.username ? { sentinelUsername: target.sentinelAuth.username } : {}),
      ...(target.sentinelAuth.password ? { sentinelPassword: target.sentinelAuth.password } : {}),
      ...(target.tls ? { tls: {}, sentinelTLS: {}, enableTLSForSentinelMode: true } : {}),
      // Sentinel's +switch-master tells every client at once, even when the old master is still reachable.
      failoverDetector: true,
      reconnectOnError: reconnectOnReadonly,
    });
  }
  // A cluster takes per-node options apart (BullMQ reads maxRetriesPerRequest there) and retries on its own level.
  const { lazyConnect, enableOfflineQueue, retryStrategy, ...perNode } = options;
  const cluster: ClusterOptions = {
    lazyConnect,
    enableOfflineQueue,
    ...(retryStrategy !== undefined ? { clusterRetryStrategy: retryStrategy } : {}),
    // ioredis learns of a failover from MOVED answers alone, which a pipeline or MULTI sent to the wrong node does
    // not act on: re-read the slot map every few seconds so those find the new master too.
    slotsRefreshInterval: 5_000,
    // A failover takes the cluster's node timeout and an election (15 s and more by default): a worker's command
    // waits that out (about 30 s) instead of failing its job after ioredis's default 16 tries 100 ms apart.
    ...(role === 'worker' ? { maxRedirections: 100, retryDelayOnFailover: 300, retryDelayOnClusterDown: 300, retryDelayOnTryAgain: 300 } : {}),
    redisOptions: { ...perNode, ...target.auth, ...(target.tls ? { tls: {} } : {}) },
  };
  return new Cluster(target.nodes, cluster);
}

/**
 * BullMQ's advice: the producer side fails fast (a webhook must get 503, not hang), the worker side
 * retries forever (maxRetriesPerRequest: null) so workers ride out a Redis restart or a failover.
 * REDIS_URL decides the client: one Redis, a Redis Cluster (`redis+cluster://`) or a Sentinel set (`redis+sentinel://`).
 */
export function createRedisConnection(url: string, role: ConnectionRole, extra: RedisOptions = {}): RedisClient {
  const redis = open(parseRedisUrl(url), role, roleOptions(role, extra));
  // Errors surface through commands and readiness; without a listener ioredis would print every reconnect attempt.
  redis.on('error', () => undefined);
  return redis;
}

/** `single`, `cluster` or `sentinel`: what REDIS_URL names. */
export const redisKind = (url: string): RedisTarget['kind'] => parseRedisUrl(url).kind;

/**
 * The key prefix every Hoist key and BullMQ queue of an install derives from. On a cluster it must be a hash tag
 * (`{hoist}`): BullMQ's scripts and Hoist's own scripts and MULTIs touch several keys at once, which a cluster runs
 * only when they share a slot (BullMQ docs, "Redis Cluster": https://docs.bullmq.io/patterns/redis-cluster). One
 * Redis or Sentinel keeps the prefix as written, so an existing install's keys stay where they are.
 */
export function keyPrefixFor(prefix: string, url: string): string {
  if (prefix.startsWith('{') || redisKind(url) !== 'cluster') return prefix;
  return `{${prefix}}`;
}

/** REDIS_URL with its passwords as `***`, for messages. */
export const redactUrl = redactRedisUrl;

/** Waits for a lazily connecting client (BullMQ may already have started it) or its first failure. */
export async function whenConnected(redis: RedisClient, timeoutMs: number): Promise<void> {
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
