import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { PENDING_STATES, type Promotion } from '../domain/types.js';
import { HoistError } from '../errors.js';

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
  update(id: string, patch: Partial<Pick<Promotion, 'state' | 'commit' | 'reason' | 'error' | 'attempts' | 'gates' | 'mergeRequest' | 'health' | 'rolledBackBy'>>): Promise<Promotion | undefined>;
}

const RETENTION_SECONDS = 30 * 24 * 3600;

// Read-modify-write in one script so concurrent workers cannot lose each other's updates or revive a finished promotion.
const UPDATE_SCRIPT = `
local current = redis.call('GET', KEYS[1])
if not current then return nil end
local record = cjson.decode(current)
local patch = cjson.decode(ARGV[1])
local terminal = { committed = true, degraded = true, skipped = true, failed = true }
-- The one move out of an end state: a committed version that the deploy side then reports Degraded.
local degrading = record.state == 'committed' and patch.state == 'degraded'
if terminal[record.state] and patch.state ~= nil and patch.state ~= record.state and not degrading then return current end
for k, v in pairs(patch) do record[k] = v end
local encoded = cjson.encode(record)
redis.call('SET', KEYS[1], encoded, 'KEEPTTL')
return encoded
`;

// Store-if-absent and the pending index in one round trip: nil when stored, else the record already there.
const ENSURE_SCRIPT = `
if redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2], 'NX') then
  if ARGV[3] == '1' then redis.call('SADD', KEYS[2], ARGV[4]) else redis.call('SREM', KEYS[2], ARGV[4]) end
  return false
end
return redis.call('GET', KEYS[1])
`;
const ENSURE_SHA = createHash('sha1').update(ENSURE_SCRIPT).digest('hex');

/** Redis errors reach callers as `unavailable`, so the API answers 503 rather than 500 while Redis is down. */
function unavailable(cause: unknown): never {
  throw new HoistError('unavailable', `Redis is not reachable: ${(cause as Error).message}`, { cause });
}

export function createPromotionStore(redis: Redis, prefix: string): PromotionStore {
  const key = (id: string) => `${prefix}:promotion:${id}`;
  const pendingKey = (env: string) => `${prefix}:pending:${env}`;
  const syncPending = async (p: Promotion) => {
    if (PENDING_STATES.has(p.state)) await redis.sadd(pendingKey(p.env), p.id).catch(unavailable);
    else await redis.srem(pendingKey(p.env), p.id).catch(unavailable);
  };
  // Lua's cjson keeps explicit nulls (how a patch clears a field); the API sees them as absent.
  const decode = (raw: string | null): Promotion | undefined =>
    raw === null ? undefined : (JSON.parse(raw, (_key, value: unknown) => (value === null ? undefined : value)) as Promotion);
  return {
    async ensure(promotion) {
      const args = [key(promotion.id), pendingKey(promotion.env), JSON.stringify(promotion), RETENTION_SECONDS, PENDING_STATES.has(promotion.state) ? '1' : '0', promotion.id] as const;
      // EVALSHA sends 40 bytes instead of the script; Redis forgets scripts on restart, hence the fallback.
      const raw = (await redis
        .evalsha(ENSURE_SHA, 2, ...args)
        .catch((error: Error) => (/NOSCRIPT/.test(error.message) ? redis.eval(ENSURE_SCRIPT, 2, ...args) : Promise.reject(error)))
        .catch(unavailable)) as string | null;
      const existing = decode(raw);
      return existing ? { created: false, promotion: existing } : { created: true, promotion };
    },
    async get(id) {
      return decode(await redis.get(key(id)).catch(unavailable));
    },
    async getMany(ids) {
      const out = new Map<string, Promotion>();
      if (ids.length === 0) return out;
      const raws = await redis.mget(...ids.map(key)).catch(unavailable);
      raws.forEach((raw, i) => {
        const p = decode(raw);
        if (p) out.set(ids[i] as string, p);
      });
      return out;
    },
    async transact(id, decide) {
      for (let attempt = 0; attempt < 20; attempt++) {
        // WATCH needs a connection of its own: the shared one carries other callers' commands.
        const conn = redis.duplicate({ lazyConnect: true });
        try {
          await conn.connect();
          await conn.watch(key(id));
          const current = decode(await conn.get(key(id)));
          if (!current) throw new HoistError('not_found', `no promotion with id "${id}"`);
          const next: Promotion = { ...current, ...decide(current), updatedAt: new Date().toISOString() };
          const result = await conn.multi().set(key(id), JSON.stringify(next), 'KEEPTTL').exec();
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
      const found = await this.getMany(ids);
      return [...found.values()].filter((p) => PENDING_STATES.has(p.state)).sort((a, b) => a.createdAt.localeCompare(b.createdAt));
    },
    async update(id, patch) {
      const body = JSON.stringify({ ...patch, updatedAt: new Date().toISOString() }, (_key, value: unknown) => (value === undefined ? null : value));
      const raw = (await redis.eval(UPDATE_SCRIPT, 1, key(id), body).catch(unavailable)) as string | null;
      const updated = decode(raw);
      if (updated) await syncPending(updated);
      return updated;
    },
  };
}
