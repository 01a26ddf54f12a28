import { createHash, randomBytes } from 'node:crypto';
import type { RedisClient } from './redis-client.js';
import { HoistError } from '../errors.js';

/** A signed-in person: who, their identity provider's groups, and the CSRF token their board pages carry. */
export interface Session {
  user: string;
  groups: string[];
  csrf: string;
  /** How they signed in: `oidc`, or `demo` (the built-in demo's "sign in as"). */
  via: 'oidc' | 'demo';
  createdAt: string;
  expiresAt: string;
}

export interface SessionStore {
  /** A new session; the id goes into the cookie, only its hash into Redis. */
  create(input: Pick<Session, 'user' | 'groups' | 'via'>, ttlMs: number): Promise<{ id: string; session: Session }>;
  get(id: string): Promise<Session | undefined>;
  destroy(id: string): Promise<void>;
  /** A sign-in under way (OIDC state, nonce, PKCE verifier), kept by its state until the provider sends the person back. */
  savePending(state: string, value: string, ttlMs: number): Promise<void>;
  /** The sign-in under way with this state, taken: it can be completed once. */
  takePending(state: string): Promise<string | undefined>;
}

const unavailable = (cause: unknown): never => {
  throw new HoistError('unavailable', `Redis is not reachable: ${(cause as Error).message}`, { cause });
};

/** Sessions in Redis, so every replica knows them and signing out ends them everywhere at once. */
export function createSessionStore(redis: RedisClient, prefix: string, now: () => Date = () => new Date()): SessionStore {
  // A leaked Redis dump holds no usable cookie: the key is the id's hash.
  const key = (id: string) => `${prefix}:session:${createHash('sha256').update(id).digest('hex')}`;
  return {
    async create(input, ttlMs) {
      const id = randomBytes(32).toString('base64url');
      const at = now();
      const session: Session = { ...input, groups: [...input.groups], csrf: randomBytes(24).toString('base64url'), createdAt: at.toISOString(), expiresAt: new Date(at.getTime() + ttlMs).toISOString() };
      await redis.set(key(id), JSON.stringify(session), 'PX', ttlMs).catch(unavailable);
      return { id, session };
    },
    async get(id) {
      if (!/^[A-Za-z0-9_-]{20,100}$/.test(id)) return undefined;
      const raw = await redis.get(key(id)).catch(unavailable);
      if (!raw) return undefined;
      const session = JSON.parse(raw) as Session;
      return Date.parse(session.expiresAt) > now().getTime() ? session : undefined;
    },
    async destroy(id) {
      await redis.del(key(id)).catch(unavailable);
    },
    async savePending(state, value, ttlMs) {
      await redis.set(`${prefix}:signin:${createHash('sha256').update(state).digest('hex')}`, value, 'PX', ttlMs).catch(unavailable);
    },
    async takePending(state) {
      const k = `${prefix}:signin:${createHash('sha256').update(state).digest('hex')}`;
      // GET then DEL in one transaction (GETDEL needs Redis 6.2): a sign-in completes once.
      const [[, value] = []] = ((await redis.multi().get(k).del(k).exec().catch(unavailable)) ?? []) as Array<[Error | null, unknown]>;
      return typeof value === 'string' ? value : undefined;
    },
  };
}
