import { createHash } from 'node:crypto';
import { duplicateClient, type RedisClient } from './redis-client.js';
import type { EditOutcome } from '../domain/ports.js';
import { PENDING_STATES, type Promotion, type PromotionState } from '../domain/types.js';
import { HoistError } from '../errors.js';
import { eventsKey, EVENTS_MAXLEN } from './events.js';

export interface RecentFilter {
  states?: ReadonlySet<PromotionState> | undefined;
  app?: string | undefined;
  env?: string | undefined;
  limit: number;
}

export interface PromotionStore {
  /** Stores the promotion unless one with the same id exists; either way returns what is stored. */
  ensure(promotion: Promotion): Promise<{ created: boolean; promotion: Promotion }>;
  get(id: string): Promise<Promotion | undefined>;
  getMany(ids: readonly string[]): Promise<Map<string, Promotion>>;
  /**
   * Read-decide-write without lost updates (two approvals at once, an approval racing a cancel):
   * `decide` sees the current record and returns a patch, or throws to refuse. Retried on conflict.
   */
  transact(id: string, decide: (current: Promotion) => Partial<Promotion>): Promise<Promotion>;
  /** Promotions waiting for gates or approvals, per environment (to supersede or re-check them). */
  pending(env: string): Promise<Promotion[]>;
  /** Applies a patch; a promotion that already ended is never moved back (a late retry cannot undo a commit). */
  update(id: string, patch: Partial<Pick<Promotion, 'state' | 'commit' | 'reason' | 'error' | 'attempts' | 'gates' | 'mergeRequest' | 'health' | 'rolledBackBy' | 'commits' | 'digests'>>): Promise<Promotion | undefined>;
  /** The most recently changed promotions, newest first, of any state unless filtered. */
  recent(filter: RecentFilter): Promise<Promotion[]>;
  /** A release train across repositories: what one repository's writer said; returns every answer so far. */
  recordLanding(id: string, target: string, outcome: EditOutcome): Promise<Map<string, EditOutcome>>;
  landings(id: string): Promise<Map<string, EditOutcome>>;
}

const RETENTION_SECONDS = 30 * 24 * 3600;
/** How many promotions the recent index keeps (the board's "Recent", GET /api/promotions). */
const RECENT_KEPT = 5_000;
/** The furthest a filtered recent query looks back through the index. */
const RECENT_SCAN = 2_000;

/**
 * Every write also files the promotion under "recent" and appends a change event (the board's live view and
 * `GET /api/events` follow that stream), in the same round trip as the write: KEYS[2] is the recent index,
 * KEYS[3] the event stream, ARGV[1] the time in milliseconds.
 */
const ANNOUNCE = `
local function announce(record)
  redis.call('ZADD', KEYS[2], ARGV[1], record.id)
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -${RECENT_KEPT + 1})
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', ${EVENTS_MAXLEN}, '*', 'type', 'promotion', 'id', record.id, 'state', record.state,
    'app', record.app, 'env', record.env, 'tag', record.tag or '')
end
`;

// Read-modify-write in one script so concurrent workers cannot lose each other's updates or revive a finished promotion.
const UPDATE_SCRIPT = `${ANNOUNCE}
local current = redis.call('GET', KEYS[1])
if not current then return nil end
local record = cjson.decode(current)
local patch = cjson.decode(ARGV[2])
local terminal = { committed = true, degraded = true, skipped = true, failed = true }
-- The one move out of an end state: a committed version that the deploy side then reports Degraded.
local degrading = record.state == 'committed' and patch.state == 'degraded'
if terminal[record.state] and patch.state ~= nil and patch.state ~= record.state and not degrading then return current end
for k, v in pairs(patch) do record[k] = v end
local encoded = cjson.encode(record)
redis.call('SET', KEYS[1], encoded, 'KEEPTTL')
announce(record)
return encoded
`;

// Store-if-absent and the pending index in one round trip: nil when stored, else the record already there.
const ENSURE_SCRIPT = `${ANNOUNCE}
if redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3], 'NX') then
  if ARGV[4] == '1' then redis.call('SADD', KEYS[4], ARGV[5]) else redis.call('SREM', KEYS[4], ARGV[5]) end
  announce(cjson.decode(ARGV[2]))
  return false
end
return redis.call('GET', KEYS[1])
`;

const sha1 = (script: string) => createHash('sha1').update(script).digest('hex');
const ENSURE_SHA = sha1(ENSURE_SCRIPT);
const UPDATE_SHA = sha1(UPDATE_SCRIPT);

/** Redis errors reach callers as `unavailable`, so the API answers 503 rather than 500 while Redis is down. */
function unavailable(cause: unknown): never {
  throw new HoistError('unavailable', `Redis is not reachable: ${(cause as Error).message}`, { cause });
}

export function createPromotionStore(redis: RedisClient, prefix: string): PromotionStore {
  const key = (id: string) => `${prefix}:promotion:${id}`;
  const pendingKey = (env: string) => `${prefix}:pending:${env}`;
  const recentKey = `${prefix}:recent`;
  const events = eventsKey(prefix);
  const syncPending = async (p: Promotion) => {
    if (PENDING_STATES.has(p.state)) await redis.sadd(pendingKey(p.env), p.id).catch(unavailable);
    else await redis.srem(pendingKey(p.env), p.id).catch(unavailable);
  };
  // Lua's cjson keeps explicit nulls (how a patch clears a field); the API sees them as absent.
  const decode = (raw: string | null): Promotion | undefined =>
    raw === null ? undefined : (JSON.parse(raw, (_key, value: unknown) => (value === null ? undefined : value)) as Promotion);
  /** EVALSHA sends 40 bytes instead of the script; Redis forgets scripts on restart, hence the fallback. */
  const run = (script: string, sha: string, keys: readonly string[], args: ReadonlyArray<string | number>) =>
    redis
      .evalsha(sha, keys.length, ...keys, ...args)
      .catch((error: Error) => (/NOSCRIPT/.test(error.message) ? redis.eval(script, keys.length, ...keys, ...args) : Promise.reject(error)))
      .catch(unavailable) as Promise<string | null>;
  const getMany = async (ids: readonly string[]) => {
    const out = new Map<string, Promotion>();
    if (ids.length === 0) return out;
    const raws = await redis.mget(...ids.map(key)).catch(unavailable);
    raws.forEach((raw, i) => {
      const p = decode(raw);
      if (p) out.set(ids[i] as string, p);
    });
    return out;
  };
  return {
    async ensure(promotion) {
      const raw = await run(ENSURE_SCRIPT, ENSURE_SHA, [key(promotion.id), recentKey, events, pendingKey(promotion.env)], [
        Date.now(),
        JSON.stringify(promotion),
        RETENTION_SECONDS,
        PENDING_STATES.has(promotion.state) ? '1' : '0',
        promotion.id,
      ]);
      const existing = decode(raw);
      return existing ? { created: false, promotion: existing } : { created: true, promotion };
    },
    async get(id) {
      return decode(await redis.get(key(id)).catch(unavailable));
    },
    getMany,
    async transact(id, decide) {
      for (let attempt = 0; attempt < 20; attempt++) {
        // WATCH needs a connection of its own: the shared one carries other callers' commands.
        const conn = duplicateClient(redis, { lazyConnect: true });
        try {
          await conn.connect();
          await conn.watch(key(id));
          const current = decode(await conn.get(key(id)));
          if (!current) throw new HoistError('not_found', `no promotion with id "${id}"`);
          const next: Promotion = { ...current, ...decide(current), updatedAt: new Date().toISOString() };
          const result = await conn
            .multi()
            .set(key(id), JSON.stringify(next), 'KEEPTTL')
            .zadd(recentKey, Date.now(), id)
            .zremrangebyrank(recentKey, 0, -(RECENT_KEPT + 1)) // as ANNOUNCE does: the index stays bounded
            .xadd(events, 'MAXLEN', '~', EVENTS_MAXLEN, '*', 'type', 'promotion', 'id', id, 'state', next.state, 'app', next.app, 'env', next.env, 'tag', next.tag)
            .exec();
          if (result !== null) {
            await syncPending(next);
            return next;
          }
        } catch (error) {
          if (error instanceof HoistError) throw error;
          unavailable(error);
        } finally {
          conn.disconnect();
        }
      }
      throw new HoistError('conflict', `promotion ${id} kept changing; try again`, { retryable: true });
    },
    async pending(env) {
      const ids = await redis.smembers(pendingKey(env)).catch(unavailable);
      const found = await getMany(ids);
      return [...found.values()].filter((p) => PENDING_STATES.has(p.state)).sort((a, b) => a.createdAt.localeCompare(b.createdAt));
    },
    async update(id, patch) {
      const body = JSON.stringify({ ...patch, updatedAt: new Date().toISOString() }, (_key, value: unknown) => (value === undefined ? null : value));
      const updated = decode(await run(UPDATE_SCRIPT, UPDATE_SHA, [key(id), recentKey, events], [Date.now(), body]));
      if (updated) await syncPending(updated);
      return updated;
    },
    async recordLanding(id, target, outcome) {
      const k = `${prefix}:landings:${id}`;
      const answers = await redis.multi().hset(k, target, JSON.stringify(outcome)).expire(k, RETENTION_SECONDS).hgetall(k).exec().catch(unavailable);
      const all = (answers?.[2]?.[1] ?? {}) as Record<string, string>;
      return new Map(Object.entries(all).map(([t, raw]) => [t, JSON.parse(raw) as EditOutcome]));
    },
    async landings(id) {
      const all = await redis.hgetall(`${prefix}:landings:${id}`).catch(unavailable);
      return new Map(Object.entries(all).map(([t, raw]) => [t, JSON.parse(raw) as EditOutcome]));
    },
    async recent(filter) {
      const out: Promotion[] = [];
      const matches = (p: Promotion) =>
        (!filter.states || filter.states.has(p.state)) &&
        (!filter.env || p.env === filter.env) &&
        (!filter.app || p.app === filter.app || (p.items ?? []).some((i) => i.app === filter.app));
      // Newest first, a page at a time, until enough match or the scan reaches its end.
      for (let start = 0; start < RECENT_SCAN && out.length < filter.limit; start += 200) {
        const ids = await redis.zrevrange(recentKey, start, start + 199).catch(unavailable);
        if (ids.length === 0) break;
        const found = await getMany(ids);
        for (const id of ids) {
          const p = found.get(id);
          if (p && matches(p)) out.push(p);
          if (out.length >= filter.limit) break;
        }
      }
      return out;
    },
  };
}
