import { Cluster, type Redis, type RedisOptions } from 'ioredis';

/**
 * One Redis or a Redis Cluster: the stores run the same commands on either. On a cluster every key of one Hoist
 * install carries the prefix's hash tag (`{hoist}:…`), so the multi-key scripts and MULTIs below stay in one slot.
 */
export type RedisClient = Redis | Cluster;

/** A connection of its own with the same target and settings (WATCH needs one); a cluster takes per-node options apart. */
export function duplicateClient(client: RedisClient, options: Pick<RedisOptions, 'lazyConnect'> = {}): RedisClient {
  return client instanceof Cluster ? client.duplicate(undefined, options) : client.duplicate(options);
}
