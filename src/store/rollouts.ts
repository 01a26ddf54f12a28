import type { RedisClient } from './redis-client.js';
import type { ResourceRef } from '../argocd/client.js';
import type { AutoPromoteMemory, RolloutState } from '../domain/rollout.js';
import { HoistError } from '../errors.js';
import { eventsKey, EVENTS_MAXLEN } from './events.js';

/** What Hoist last read of one app's Rollout after a promotion, and what autoPromote remembers about its pauses. */
export interface RolloutAppRecord {
  /** The tag the Rollout ran when read: progress is only ever shown for the promotion's own version. */
  tag: string;
  state: RolloutState;
  /** The Rollout as Argo CD names it, for its resource actions. */
  ref: ResourceRef;
  /** The Application's health as Argo CD reported it with this read. */
  applicationHealth: string;
  /** `formatRollout` of the state plus its message: a change of it is progress. */
  summary: string;
  at: string;
  autoPromote?: AutoPromoteMemory | undefined;
}

/** The watch of one promotion after its commit. */
export interface RolloutWatchRecord {
  /** Until when Hoist keeps reading the Application after the version turned healthy (`watch`). */
  watchUntil?: string | undefined;
  /** Why the window closed early (a newer promotion landed). */
  watchEnded?: string | undefined;
  /** When any of its Rollouts last changed (the give-up deadline of a Rollout that stands still counts from here). */
  lastChange?: string | undefined;
}

export interface RolloutRecords {
  get(promotionId: string): Promise<RolloutWatchRecord | undefined>;
  app(promotionId: string, app: string): Promise<RolloutAppRecord | undefined>;
  /** One round trip for a page of promotions: the watch record and the named app's record of each. */
  many(pairs: ReadonlyArray<readonly [promotionId: string, app: string]>): Promise<Map<string, { watch?: RolloutWatchRecord; app?: RolloutAppRecord }>>;
  /** Merges the fields given (undefined removes one); `announce` also tells the board and `GET /api/events`. */
  update(promotionId: string, patch: Partial<RolloutWatchRecord>, announce?: RolloutEvent): Promise<RolloutWatchRecord>;
  updateApp(promotionId: string, app: string, patch: Partial<RolloutAppRecord>, announce?: RolloutEvent): Promise<RolloutAppRecord>;
  /**
   * Takes a right for one holder across processes (the chain of rounds that follows a promotion, one autoPromote
   * decision): true for one caller until `release`, or until `ttlMs` passes without `renew` (a holder that died
   * frees it by itself).
   */
  claim(name: string, ttlMs: number): Promise<boolean>;
  renew(name: string, ttlMs: number): Promise<void>;
  release(name: string): Promise<void>;
}

/** The change event the board's live view and `GET /api/events` receive (`event: rollout`). */
export interface RolloutEvent {
  id: string;
  env: string;
  app: string;
  tag: string;
  text: string;
}

const RETENTION_SECONDS = 30 * 24 * 3600;

function unavailable(cause: unknown): never {
  throw new HoistError('unavailable', `Redis is not reachable: ${(cause as Error).message}`, { cause });
}

/** A record is a hash of JSON values, one per field: a patch writes only its fields, so concurrent writers keep each other's. */
const decode = <T>(hash: Record<string, string> | null | undefined): T | undefined => {
  if (!hash || Object.keys(hash).length === 0) return undefined;
  return Object.fromEntries(Object.entries(hash).map(([k, v]) => [k, JSON.parse(v) as unknown])) as T;
};

export function createRolloutRecords(redis: RedisClient, prefix: string): RolloutRecords {
  const key = (id: string) => `${prefix}:rollout:${id}`;
  const appKey = (id: string, app: string) => `${prefix}:rollout:${id}:app:${app}`;
  const claimKey = (name: string) => `${prefix}:rollout-claim:${name}`;
  /** The patch, the expiry, the event and the record as it is now, in one round trip. */
  const merge = async <T>(k: string, patch: object, event: RolloutEvent | undefined): Promise<T> => {
    const entries = Object.entries(patch);
    const set = entries.filter(([, v]) => v !== undefined).flatMap(([field, v]) => [field, JSON.stringify(v)]);
    const removed = entries.filter(([, v]) => v === undefined).map(([field]) => field);
    const tx = redis.multi();
    if (set.length > 0) tx.hset(k, ...set);
    if (removed.length > 0) tx.hdel(k, ...removed);
    tx.expire(k, RETENTION_SECONDS);
    if (event) tx.xadd(eventsKey(prefix), 'MAXLEN', '~', EVENTS_MAXLEN, '*', 'type', 'rollout', 'id', event.id, 'env', event.env, 'app', event.app, 'tag', event.tag, 'text', event.text);
    tx.hgetall(k);
    const answers = await tx.exec().catch(unavailable);
    const hash = answers?.at(-1)?.[1] as Record<string, string> | undefined;
    return (decode<T>(hash) ?? {}) as T;
  };
  return {
    async get(id) {
      return decode<RolloutWatchRecord>(await redis.hgetall(key(id)).catch(unavailable));
    },
    async app(id, app) {
      return decode<RolloutAppRecord>(await redis.hgetall(appKey(id, app)).catch(unavailable));
    },
    async many(pairs) {
      const out = new Map<string, { watch?: RolloutWatchRecord; app?: RolloutAppRecord }>();
      if (pairs.length === 0) return out;
      const tx = redis.pipeline();
      for (const [id, app] of pairs) tx.hgetall(key(id)).hgetall(appKey(id, app));
      const answers = (await tx.exec().catch(unavailable)) ?? [];
      pairs.forEach(([id], i) => {
        const watch = decode<RolloutWatchRecord>(answers[2 * i]?.[1] as Record<string, string> | undefined);
        const app = decode<RolloutAppRecord>(answers[2 * i + 1]?.[1] as Record<string, string> | undefined);
        out.set(id, { ...(watch ? { watch } : {}), ...(app ? { app } : {}) });
      });
      return out;
    },
    update: (id, patch, announce) => merge<RolloutWatchRecord>(key(id), patch, announce),
    updateApp: (id, app, patch, announce) => merge<RolloutAppRecord>(appKey(id, app), patch, announce),
    async claim(name, ttlMs) {
      return (await redis.set(claimKey(name), '1', 'PX', ttlMs, 'NX').catch(unavailable)) === 'OK';
    },
    async renew(name, ttlMs) {
      await redis.pexpire(claimKey(name), ttlMs).catch(unavailable);
    },
    async release(name) {
      await redis.del(claimKey(name)).catch(unavailable);
    },
  };
}
