import { Cluster, type Redis } from 'ioredis';
import { HoistError } from '../errors.js';
import type { RedisClient } from '../store/redis-client.js';

/**
 * Redis replicates asynchronously: a master that answered a write and fails over a moment later may take the write
 * with it. The barrier waits until one replica has everything written before it was asked (`WAIT 1`), so an answer
 * that says "stored" (202) survives the failover that Cluster or Sentinel is there for.
 */
export interface ReplicaBarrier {
  /** Resolves once a replica has every write made before the call; rejects (`unavailable`, retryable) otherwise. */
  confirm(): Promise<void>;
}

export interface ReplicaBarrierOptions {
  /** A connection of its own: WAIT blocks the connection it runs on, and it must not hold up the request path. */
  redis: RedisClient;
  /** A key in the slot every Hoist key lives in (`{hoist}:replicated`), so a cluster routes the barrier to their master. */
  key: string;
  /** How long a replica may take to confirm; keep it under the connection's command timeout. */
  timeoutMs: number;
  /** The master has no replica connected, so there is nothing to wait for (and nothing that could take over). */
  onAlone?: () => void;
}

/** `ROLE` on a master: `['master', offset, [[host, port, offset], …]]`, one entry per connected replica. */
const replicasOf = (role: unknown): number | undefined =>
  Array.isArray(role) && role[0] === 'master' && Array.isArray(role[2]) ? role[2].length : undefined;

export function createReplicaBarrier(options: ReplicaBarrierOptions): ReplicaBarrier {
  const { redis, key, timeoutMs } = options;
  const failed = (reason: string, cause?: unknown): never => {
    throw new HoistError(
      'unavailable',
      `Redis has the change on its master, but ${reason}, so a failover now could lose it (it may take effect anyway); ` +
        'resending a webhook with the same Idempotency-Key is always safe: it maps onto the same job',
      { retryable: true, cause },
    );
  };

  let slot: number | undefined;
  /**
   * The connection to the master of the key's slot: WAIT counts one connection's writes, on one node. A cluster's own
   * pipelines go to a random node while its slot map is stale after a failover, so the barrier talks to the node itself.
   */
  const masterConnection = async (): Promise<Redis> => {
    if (!(redis instanceof Cluster)) return redis;
    slot ??= Number(await redis.cluster('KEYSLOT', key));
    // A routed command first: a MOVED answer updates the slot map to the new master.
    await redis.exists(key);
    const address = redis.slots[slot]?.[0];
    const node = redis.nodes('master').find((n) => `${n.options.host}:${n.options.port}` === address);
    if (!node) throw new Error(`no connection to the master of slot ${slot} (${address ?? 'unknown'})`);
    return node;
  };

  const round = async (): Promise<void> => {
    const node = await masterConnection().catch((cause: unknown) => failed('it did not answer the replication check', cause));
    // The write orders this round after everything the caller wrote (Redis replicates in one stream, in order);
    // on a node that is no master of the slot any more it fails (MOVED, READONLY) instead.
    const answers = await node
      .pipeline()
      .set(key, String(Date.now()), 'PX', 3_600_000)
      .role()
      .exec()
      .catch((cause: unknown) => failed('it did not answer the replication check', cause));
    const [[setError] = [], [roleError, role] = []] = answers ?? [];
    if (setError || roleError) failed('it did not answer the replication check', setError ?? roleError);
    const replicas = replicasOf(role);
    if (replicas === undefined) failed('the node Hoist reached is not a master any more');
    if (replicas === 0) {
      options.onAlone?.();
      return;
    }
    // WAIT counts from this connection's last write: the SET above.
    const acked = await node.wait(1, timeoutMs).catch((cause: unknown) => failed('it did not answer the replication check', cause));
    if (acked < 1) failed(`no replica confirmed it within ${timeoutMs / 1000} s`);
  };

  // Group commit: callers that arrive while a round runs share the next one (the running one may have started
  // before their writes), so a burst of webhooks costs two rounds at a time, not one each.
  let running: Promise<void> | undefined;
  let next: Promise<void> | undefined;
  const start = (): Promise<void> => {
    const current = round().finally(() => {
      if (running === current) running = undefined;
    });
    running = current;
    return current;
  };
  return {
    confirm() {
      if (!running) return start();
      next ??= running
        .catch(() => undefined)
        .then(() => {
          next = undefined;
          return start();
        });
      return next;
    },
  };
}
