import { Cluster } from 'ioredis';
import type { RedisClient } from '../store/redis-client.js';

/**
 * Every accepted promotion is a BullMQ job, which lives in Redis only: a Redis that keeps nothing on disk
 * loses them all when it restarts, and one that evicts keys loses them one by one under memory pressure.
 */
export type PersistenceRisk = 'no_persistence' | 'eviction' | 'unknown';

export const PERSISTENCE_RISKS: readonly PersistenceRisk[] = ['no_persistence', 'eviction', 'unknown'];

/** What `CONFIG GET` answered (a value Redis did not return stays undefined), or why it could not be asked. */
export type PersistenceSettings =
  | { kind: 'read'; appendonly: string | undefined; save: string | undefined; maxmemoryPolicy: string | undefined }
  | { kind: 'refused'; reason: string };

export interface PersistenceWarning {
  risk: PersistenceRisk;
  message: string;
}

const FIX_UNKNOWN = 'make sure it persists its data (appendonly yes) and uses maxmemory-policy noeviction, or accepted promotions may be lost';

/** Values in, verdicts out: one warning per risk, none when Redis both persists and never evicts. */
export function judgePersistence(settings: PersistenceSettings): PersistenceWarning[] {
  if (settings.kind === 'refused') {
    return [{ risk: 'unknown', message: `could not check Redis persistence (CONFIG GET refused: ${settings.reason}): ${FIX_UNKNOWN}` }];
  }
  const warnings: PersistenceWarning[] = [];
  const unread: string[] = [];
  const { appendonly, save, maxmemoryPolicy } = settings;
  // Either the append-only file or RDB snapshots (a non-empty `save`) keep data across a restart.
  const persists = appendonly === 'yes' || (save !== undefined && save.trim() !== '');
  if (!persists) {
    if (appendonly === undefined) unread.push('appendonly');
    if (save === undefined) unread.push('save');
    if (appendonly !== undefined && save !== undefined) {
      warnings.push({
        risk: 'no_persistence',
        message:
          `Redis persists nothing (appendonly ${appendonly}, save ""): accepted promotions would be lost on a Redis restart. ` +
          'Turn on the append-only file (appendonly yes, appendfsync everysec) or use a Redis that persists its data',
      });
    }
  }
  if (maxmemoryPolicy === undefined) unread.push('maxmemory-policy');
  else if (maxmemoryPolicy !== 'noeviction') {
    warnings.push({
      risk: 'eviction',
      message:
        `Redis may evict keys (maxmemory-policy ${maxmemoryPolicy}): accepted promotions could be evicted and lost when its memory runs short. ` +
        'Set maxmemory-policy noeviction (BullMQ requires it): a full Redis then refuses new webhooks with 503 instead',
    });
  }
  if (unread.length > 0) {
    warnings.push({ risk: 'unknown', message: `could not check Redis ${unread.join(' and ')} (CONFIG GET returned no value): ${FIX_UNKNOWN}` });
  }
  return warnings;
}

/** Asks Redis for its settings; a managed Redis may refuse CONFIG (renamed, disabled, ACL), which is an answer too. */
export async function readPersistenceSettings(redis: RedisClient): Promise<PersistenceSettings> {
  try {
    // One parameter per CONFIG GET: several in one call need Redis 7.
    const answers = await Promise.all(['appendonly', 'save', 'maxmemory-policy'].map((name) => redis.config('GET', name) as Promise<unknown>));
    const values = new Map<string, string>();
    for (const answer of answers) {
      // `[name, value]` pairs; a RESP3 map (replyMapping "resp3") arrives as an object instead.
      const pairs = Array.isArray(answer) ? (answer as unknown[]) : typeof answer === 'object' && answer !== null ? Object.entries(answer).flat() : [];
      for (let i = 0; i + 1 < pairs.length; i += 2) values.set(String(pairs[i]), String(pairs[i + 1]));
    }
    return { kind: 'read', appendonly: values.get('appendonly'), save: values.get('save'), maxmemoryPolicy: values.get('maxmemory-policy') };
  } catch (error) {
    return { kind: 'refused', reason: (error as Error).message.trim() };
  }
}

/** What one node answered; `node` is its address on a cluster, undefined for one Redis (or Sentinel's master). */
export interface NodePersistence {
  node?: string | undefined;
  settings: PersistenceSettings;
}

/**
 * A cluster's masters each keep their own part of the data (and CONFIG reaches one random node), so every master
 * is asked; one Redis, or the master Sentinel names, answers for all.
 */
export async function readPersistence(redis: RedisClient): Promise<NodePersistence[]> {
  if (!(redis instanceof Cluster)) return [{ settings: await readPersistenceSettings(redis) }];
  const masters = redis.nodes('master');
  return Promise.all(masters.map(async (node) => ({ node: `${node.options.host}:${node.options.port}`, settings: await readPersistenceSettings(node) })));
}

/** One warning per risk across the nodes, naming the masters it concerns when there are several. */
export function judgeNodes(readings: readonly NodePersistence[]): PersistenceWarning[] {
  const [only] = readings;
  if (readings.length === 1 && only) return judgePersistence(only.settings);
  if (readings.length === 0) return [{ risk: 'unknown', message: `could not check Redis persistence (no Redis Cluster master was known yet): ${FIX_UNKNOWN}` }];
  const byRisk = new Map<PersistenceRisk, { nodes: string[]; message: string }>();
  for (const { node, settings } of readings) {
    for (const warning of judgePersistence(settings)) {
      const entry = byRisk.get(warning.risk) ?? { nodes: [], message: warning.message };
      entry.nodes.push(node ?? '?');
      byRisk.set(warning.risk, entry);
    }
  }
  return [...byRisk].map(([risk, { nodes, message }]) => ({
    risk,
    message: `${nodes.length === readings.length ? 'every Redis Cluster master' : `Redis Cluster master ${nodes.join(', ')}`}: ${message}`,
  }));
}
