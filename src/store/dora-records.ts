import type { RedisClient } from './redis-client.js';
import type { DeploymentRecord } from '../domain/dora.js';
import type { PromotionKind } from '../domain/types.js';
import { HoistError } from '../errors.js';

/** A moment after landing that is written once: the first report wins, a repeat or a late retry changes nothing. */
export type DoraMark = 'healthyAt' | 'degradedAt' | 'restoredAt' | 'failedAt';

/**
 * What landed where and when it became healthy or degraded, for the DORA figures: one hash per landed promotion,
 * indexed by landing time. Hoist's promotion records expire after 30 days and keep only their latest state; these keep
 * the moments, for a year and a bit.
 */
export interface DoraRecords {
  /** Files a landed promotion; false when it was filed already (a retried commit, a second observer). */
  landed(record: Pick<DeploymentRecord, 'id' | 'env' | 'kind' | 'apps' | 'landedAt'>): Promise<boolean>;
  /** Sets one moment if the promotion is filed and the moment is not yet set; true when this call set it. */
  mark(id: string, mark: DoraMark, at: string): Promise<boolean>;
  get(id: string): Promise<(DeploymentRecord & { failedAt?: string }) | undefined>;
  /** The promotion that landed last for an app in an environment before `id`, which becomes the last one now. */
  replaceLast(env: string, app: string, id: string): Promise<string | undefined>;
  /** Every record that landed in [from, to), oldest first, at most `limit`. */
  between(from: Date, to: Date, limit: number): Promise<DeploymentRecord[]>;
}

/** A year of figures and the failure window around its edges. */
export const DORA_RETENTION_MS = 400 * 86_400_000;

const LANDED_SCRIPT = `
if redis.call('HSETNX', KEYS[1], 'landedAt', ARGV[2]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'env', ARGV[3], 'kind', ARGV[4], 'apps', ARGV[5])
redis.call('PEXPIRE', KEYS[1], ARGV[7])
redis.call('ZADD', KEYS[2], ARGV[6], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', tonumber(ARGV[6]) - tonumber(ARGV[7]))
return 1
`;

// Only a filed promotion gets moments: a report about one Hoist never saw land would make a record without a landing.
const MARK_SCRIPT = `
if redis.call('HEXISTS', KEYS[1], 'landedAt') == 0 then return 0 end
return redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
`;

export function createDoraRecords(redis: RedisClient, prefix: string): DoraRecords {
  const key = (id: string) => `${prefix}:dora:${id}`;
  const indexKey = `${prefix}:dora:landed`;
  const lastKey = (env: string, app: string) => `${prefix}:dora:last:${env}:${app}`;
  const unavailable = (cause: unknown): never => {
    throw new HoistError('unavailable', `Redis is not reachable: ${(cause as Error).message}`, { cause });
  };
  const decode = (raw: Record<string, string>): (DeploymentRecord & { failedAt?: string }) | undefined => {
    if (!raw.id || !raw.env || !raw.landedAt) return undefined;
    let apps: DeploymentRecord['apps'];
    try {
      apps = JSON.parse(raw.apps ?? '[]') as DeploymentRecord['apps'];
    } catch {
      apps = [];
    }
    return {
      id: raw.id,
      env: raw.env,
      kind: (raw.kind ?? 'pipeline') as PromotionKind,
      apps,
      landedAt: raw.landedAt,
      ...(raw.healthyAt ? { healthyAt: raw.healthyAt } : {}),
      ...(raw.degradedAt ? { degradedAt: raw.degradedAt } : {}),
      ...(raw.restoredAt ? { restoredAt: raw.restoredAt } : {}),
      ...(raw.failedAt ? { failedAt: raw.failedAt } : {}),
    };
  };
  return {
    async landed(record) {
      const at = Date.parse(record.landedAt);
      const created = await redis
        .eval(LANDED_SCRIPT, 2, key(record.id), indexKey, record.id, record.landedAt, record.env, record.kind, JSON.stringify(record.apps), at, DORA_RETENTION_MS)
        .catch(unavailable);
      return created === 1;
    },
    async mark(id, mark, at) {
      return (await redis.eval(MARK_SCRIPT, 1, key(id), mark, at).catch(unavailable)) === 1;
    },
    async get(id) {
      return decode(await redis.hgetall(key(id)).catch(unavailable));
    },
    async replaceLast(env, app, id) {
      const previous = await redis.getset(lastKey(env, app), id).catch(unavailable);
      await redis.pexpire(lastKey(env, app), DORA_RETENTION_MS).catch(unavailable);
      return previous && previous !== id ? previous : undefined;
    },
    async between(from, to, limit) {
      const ids = await redis.zrangebyscore(indexKey, from.getTime(), `(${to.getTime()}`, 'LIMIT', 0, limit).catch(unavailable);
      if (ids.length === 0) return [];
      const pipeline = redis.pipeline();
      for (const id of ids) pipeline.hgetall(key(id));
      const answers = (await pipeline.exec().catch(unavailable)) ?? [];
      return answers.flatMap(([error, raw]) => {
        const record = error ? undefined : decode(raw as Record<string, string>);
        return record ? [record] : [];
      });
    },
  };
}
