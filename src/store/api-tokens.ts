import { createHash, randomBytes } from 'node:crypto';
import type { RedisClient } from './redis-client.js';
import { HoistError } from '../errors.js';

/** A personal API token as listed: never the token itself, which is shown once, at creation. */
export interface ApiTokenInfo {
  id: string;
  name: string;
  user: string;
  /** The person's groups when they made it (their sign-in's), so rbac sees the same person. */
  groups: string[];
  createdAt: string;
  expiresAt?: string | undefined;
}

export interface ApiTokenStore {
  create(input: { user: string; groups: readonly string[]; name: string; expiresAt?: Date | undefined }): Promise<{ token: string; info: ApiTokenInfo }>;
  list(user: string): Promise<ApiTokenInfo[]>;
  /** Revokes one of the person's tokens; false when they have none with that id. */
  revoke(user: string, id: string): Promise<boolean>;
  /** Who a presented token belongs to; undefined when unknown, revoked or expired. */
  resolve(token: string): Promise<ApiTokenInfo | undefined>;
}

/** `hoist_pat_` and 43 characters: recognisable in a leak scan, unguessable. */
export const TOKEN_PATTERN = /^hoist_pat_[A-Za-z0-9_-]{43}$/;

const unavailable = (cause: unknown): never => {
  throw new HoistError('unavailable', `Redis is not reachable: ${(cause as Error).message}`, { cause });
};

const hash = (token: string) => createHash('sha256').update(token).digest('hex');

/**
 * Personal API tokens in Redis, stored by the SHA-256 of the token (it carries 256 random bits: no salt or slow hash
 * needed), so one lookup answers each request and a revoked token stops working on every replica at once.
 */
export function createApiTokenStore(redis: RedisClient, prefix: string, now: () => Date = () => new Date()): ApiTokenStore {
  const byHash = (h: string) => `${prefix}:pat:${h}`;
  const ofUser = (user: string) => `${prefix}:pats:${user}`;
  const live = (info: ApiTokenInfo) => info.expiresAt === undefined || Date.parse(info.expiresAt) > now().getTime();
  return {
    async create({ user, groups, name, expiresAt }) {
      const token = `hoist_pat_${randomBytes(32).toString('base64url')}`;
      const h = hash(token);
      const info: ApiTokenInfo = { id: `t-${h.slice(0, 16)}`, name, user, groups: [...groups], createdAt: now().toISOString(), ...(expiresAt ? { expiresAt: expiresAt.toISOString() } : {}) };
      const multi = redis.multi().set(byHash(h), JSON.stringify(info)).hset(ofUser(user), info.id, h);
      if (expiresAt) multi.pexpireat(byHash(h), expiresAt.getTime());
      await multi.exec().catch(unavailable);
      return { token, info };
    },
    async list(user) {
      const ids = await redis.hgetall(ofUser(user)).catch(unavailable);
      const hashes = Object.values(ids);
      if (hashes.length === 0) return [];
      const raws = await redis.mget(...hashes.map(byHash)).catch(unavailable);
      const infos = raws.flatMap((raw) => (raw ? [JSON.parse(raw) as ApiTokenInfo] : [])).filter(live);
      // Expired ones drop out of the list as they drop out of Redis.
      const gone = Object.entries(ids).filter(([id]) => !infos.some((i) => i.id === id)).map(([id]) => id);
      if (gone.length > 0) await redis.hdel(ofUser(user), ...gone).catch(unavailable);
      return infos.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
    },
    async revoke(user, id) {
      const h = await redis.hget(ofUser(user), id).catch(unavailable);
      if (!h) return false;
      await redis.multi().del(byHash(h)).hdel(ofUser(user), id).exec().catch(unavailable);
      return true;
    },
    async resolve(token) {
      if (!TOKEN_PATTERN.test(token)) return undefined;
      const raw = await redis.get(byHash(hash(token))).catch(unavailable);
      if (!raw) return undefined;
      const info = JSON.parse(raw) as ApiTokenInfo;
      return live(info) ? info : undefined;
    },
  };
}
