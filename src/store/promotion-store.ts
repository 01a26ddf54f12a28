import type { Redis } from 'ioredis';
import type { Promotion } from '../domain/types.js';
import { HoistError } from '../errors.js';

export interface PromotionStore {
  /** Stores the promotion unless one with the same id exists; either way returns what is stored. */
  ensure(promotion: Promotion): Promise<{ created: boolean; promotion: Promotion }>;
  get(id: string): Promise<Promotion | undefined>;
  getMany(ids: readonly string[]): Promise<Map<string, Promotion>>;
  /** Applies a patch; a promotion that already ended is never moved back (a late retry cannot undo a commit). */
  update(id: string, patch: Partial<Pick<Promotion, 'state' | 'commit' | 'reason' | 'error' | 'attempts'>>): Promise<Promotion | undefined>;
}

const RETENTION_SECONDS = 30 * 24 * 3600;

// Read-modify-write in one script so concurrent workers cannot lose each other's updates or revive a finished promotion.
const UPDATE_SCRIPT = `
local current = redis.call('GET', KEYS[1])
if not current then return nil end
local record = cjson.decode(current)
local patch = cjson.decode(ARGV[1])
local terminal = { committed = true, skipped = true, failed = true }
if terminal[record.state] and patch.state ~= nil and patch.state ~= record.state then return current end
for k, v in pairs(patch) do record[k] = v end
local encoded = cjson.encode(record)
redis.call('SET', KEYS[1], encoded, 'KEEPTTL')
return encoded
`;

/** Redis errors reach callers as `unavailable`, so the API answers 503 rather than 500 while Redis is down. */
function unavailable(cause: unknown): never {
  throw new HoistError('unavailable', `Redis is not reachable: ${(cause as Error).message}`, { cause });
}

export function createPromotionStore(redis: Redis, prefix: string): PromotionStore {
  const key = (id: string) => `${prefix}:promotion:${id}`;
  // Lua's cjson keeps explicit nulls (how a patch clears a field); the API sees them as absent.
  const decode = (raw: string | null): Promotion | undefined =>
    raw === null ? undefined : (JSON.parse(raw, (_key, value: unknown) => (value === null ? undefined : value)) as Promotion);
  return {
    async ensure(promotion) {
      const stored = await redis.set(key(promotion.id), JSON.stringify(promotion), 'EX', RETENTION_SECONDS, 'NX').catch(unavailable);
      if (stored === 'OK') return { created: true, promotion };
      const existing = decode(await redis.get(key(promotion.id)).catch(unavailable));
      return existing ? { created: false, promotion: existing } : this.ensure(promotion);
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
    async update(id, patch) {
      const body = JSON.stringify({ ...patch, updatedAt: new Date().toISOString() }, (_key, value: unknown) => (value === undefined ? null : value));
      const raw = (await redis.eval(UPDATE_SCRIPT, 1, key(id), body).catch(unavailable)) as string | null;
      return decode(raw);
    },
  };
}
