import type { RedisClient } from './redis-client.js';
import { HoistError } from '../errors.js';

/**
 * What changed, as a Redis stream every replica appends to and reads from: promotions (written in the same round
 * trip as the record, see promotion-store.ts) and deploy reports. The board and `GET /api/events` follow it; a
 * client that lost its connection resumes from the last id it saw (SSE `Last-Event-ID`).
 */
export const eventsKey = (prefix: string) => `${prefix}:events`;
/** About a day of a busy install's changes; older ids cannot be resumed from (the client reloads instead). */
export const EVENTS_MAXLEN = 10_000;

export interface HoistEvent {
  /** The stream id (`<ms>-<seq>`): also the SSE event id. */
  id: string;
  type: 'promotion' | 'health' | string;
  data: Record<string, string>;
}

export interface EventLog {
  publish(type: string, data: Readonly<Record<string, string>>): Promise<void>;
  /** Events after `id` (exclusive), oldest first; undefined when `id` is older than what the stream keeps. */
  since(id: string, count?: number): Promise<HoistEvent[] | undefined>;
  /** The newest event id, to start following from. */
  latest(): Promise<string>;
  /**
   * Calls `listener` with every event appended after now, on one blocking connection per process however many
   * listeners; returns the function that stops listening.
   */
  follow(listener: (event: HoistEvent) => void): () => void;
  close(): Promise<void>;
}

type RawEntry = [string, string[]];

const toEvent = ([id, fields]: RawEntry): HoistEvent => {
  const data: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) data[fields[i] as string] = fields[i + 1] as string;
  const { type = 'unknown', ...rest } = data;
  return { id, type, data: rest };
};

const unavailable = (cause: unknown): never => {
  throw new HoistError('unavailable', `Redis is not reachable: ${(cause as Error).message}`, { cause });
};

/** `reader` is a connection of its own: a blocking XREAD holds it. */
export function createEventLog(redis: RedisClient, reader: () => RedisClient, prefix: string): EventLog {
  const key = eventsKey(prefix);
  const listeners = new Set<(event: HoistEvent) => void>();
  let loop: { connection: RedisClient; stopped: boolean } | undefined;

  const start = () => {
    const state = { connection: reader(), stopped: false };
    loop = state;
    void (async () => {
      // From the newest id rather than '$', which XREAD takes as "after whatever is newest when this command
      // runs": the blocking connection may still be connecting while events are appended. An empty stream is
      // followed from its start, so its first events are not missed either.
      let last = '$';
      try {
        const [newest] = ((await redis.xrevrange(key, '+', '-', 'COUNT', 1)) as RawEntry[]) ?? [];
        last = newest ? newest[0] : '0-0';
      } catch {
        // Redis away: '$' it is.
      }
      while (!state.stopped) {
        try {
          const answer = (await state.connection.xread('BLOCK', 10_000, 'STREAMS', key, last)) as Array<[string, RawEntry[]]> | null;
          for (const [, entries] of answer ?? []) {
            for (const entry of entries) {
              last = entry[0];
              const event = toEvent(entry);
              for (const listener of listeners) listener(event);
            }
          }
        } catch {
          // Redis away: the connection retries by itself; wait a moment instead of spinning.
          if (!state.stopped) await new Promise((resolve) => setTimeout(resolve, 500));
        }
      }
    })();
  };
  const stop = () => {
    if (!loop) return;
    loop.stopped = true;
    loop.connection.disconnect();
    loop = undefined;
  };

  return {
    async publish(type, data) {
      await redis.xadd(key, 'MAXLEN', '~', EVENTS_MAXLEN, '*', 'type', type, ...Object.entries(data).flat()).catch(unavailable);
    },
    async since(id, count = 1_000) {
      const [oldest] = ((await redis.xrange(key, '-', '+', 'COUNT', 1).catch(unavailable)) as RawEntry[]) ?? [];
      // A resume point older than the oldest kept event: something was trimmed in between.
      if (oldest && compareIds(id, oldest[0]) < 0) return undefined;
      const entries = (await redis.xrange(key, `(${id}`, '+', 'COUNT', count).catch(unavailable)) as RawEntry[];
      return entries.map(toEvent);
    },
    async latest() {
      const [newest] = ((await redis.xrevrange(key, '+', '-', 'COUNT', 1).catch(unavailable)) as RawEntry[]) ?? [];
      return newest?.[0] ?? '0-0';
    },
    follow(listener) {
      listeners.add(listener);
      if (!loop) start();
      return () => {
        listeners.delete(listener);
        if (listeners.size === 0) stop();
      };
    },
    async close() {
      listeners.clear();
      stop();
    },
  };
}

/** Orders stream ids `<ms>-<seq>`. */
export function compareIds(a: string, b: string): number {
  const [am = 0, as = 0] = a.split('-').map(Number);
  const [bm = 0, bs = 0] = b.split('-').map(Number);
  return am - bm || as - bs;
}

/** A valid stream id as a client may send it back (`Last-Event-ID`). */
export const isEventId = (id: string) => /^\d{1,20}-\d{1,20}$/.test(id);
