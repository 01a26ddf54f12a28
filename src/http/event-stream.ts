import type { Context } from 'hono';
import { streamSSE, type SSEStreamingApi } from 'hono/streaming';
import { compareIds, type EventLog, type HoistEvent } from '../store/events.js';

/** One event as SSE text, made once however many clients follow. */
interface Frame {
  id: string;
  text: string;
}

interface Client {
  /** The newest id this client was sent: frames at or before it are not sent again. */
  last: string;
  /** Frames waiting for the next flush (or for the client to catch up first). */
  pending: Frame[];
  live: boolean;
  writing: boolean;
  /** It fell behind and frames were dropped: the next write starts with `reset`. */
  behind: boolean;
  stream: SSEStreamingApi;
}

export interface EventStreamOptions {
  /** How long events gather before each client gets them in one write. */
  flushMs?: number;
  /** A client this far behind (frames not yet written to it) gets `reset` and the newest state instead. */
  maxPending?: number;
  heartbeatMs?: number;
}

const frame = (event: HoistEvent): Frame => ({ id: event.id, text: `id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify(event.data)}\n\n` });
const resetText = (reason: string) => `event: reset\ndata: ${JSON.stringify({ reason })}\n\n`;

/**
 * `GET /api/events` for every client of this process through one follower of the event log: each event is
 * serialised once and each client gets what gathered in one write per flush, so a hundred open boards cost a
 * hundred writes per flush, not a hundred per event. A client that cannot keep up is told to reload (`reset`)
 * instead of holding an ever-growing buffer.
 */
export function createEventStreams(events: EventLog, options: EventStreamOptions = {}) {
  const flushMs = options.flushMs ?? 50;
  const maxPending = options.maxPending ?? 5_000;
  const heartbeatMs = options.heartbeatMs ?? 15_000;
  const clients = new Set<Client>();
  let stopFollowing: (() => void) | undefined;
  let timer: NodeJS.Timeout | undefined;

  const encoder = new TextEncoder();
  const write = (client: Client, text: string | Uint8Array) => {
    client.writing = true;
    client.stream
      .write(text)
      .catch(() => undefined)
      .finally(() => {
        client.writing = false;
      });
  };

  /**
   * Clients that were sent the same newest id and gathered the same frames since (every live client that kept
   * up: frames reach all of them in the same order) get the same bytes, encoded once per flush.
   */
  const flushClient = (client: Client, shared?: Map<string, Uint8Array>) => {
    if (!client.live || client.writing || (client.pending.length === 0 && !client.behind) || client.stream.aborted) return;
    const newest = client.pending.at(-1);
    const key = !client.behind && shared && newest ? `${client.last} ${client.pending.length} ${newest.id}` : undefined;
    const same = key === undefined ? undefined : shared?.get(key);
    if (same && newest) {
      client.pending = [];
      client.last = newest.id;
      write(client, same);
      return;
    }
    let text = client.behind ? resetText('this client fell behind the events: reload') : '';
    client.behind = false;
    for (const f of client.pending) {
      if (compareIds(f.id, client.last) <= 0) continue;
      text += f.text;
      client.last = f.id;
    }
    client.pending = [];
    if (!text) return;
    if (key === undefined) return write(client, text);
    const bytes = encoder.encode(text);
    shared?.set(key, bytes);
    write(client, bytes);
  };

  const flush = () => {
    timer = undefined;
    const shared = new Map<string, Uint8Array>();
    for (const client of clients) flushClient(client, shared);
    // A client still writing keeps its frames for the next round.
    if ([...clients].some((c) => c.pending.length > 0 || c.behind)) schedule();
  };
  const schedule = () => {
    timer ??= setTimeout(flush, flushMs);
    timer.unref?.();
  };

  const onEvent = (event: HoistEvent) => {
    const f = frame(event);
    for (const client of clients) {
      client.pending.push(f);
      if (client.pending.length > maxPending) {
        // Too far behind: what it missed is no use any more; it reloads the state and follows from the newest.
        client.pending = [];
        client.last = f.id;
        client.behind = true;
      }
    }
    schedule();
  };

  const join = (client: Client) => {
    clients.add(client);
    stopFollowing ??= events.follow(onEvent);
  };
  const leave = (client: Client) => {
    clients.delete(client);
    if (clients.size === 0 && stopFollowing) {
      stopFollowing();
      stopFollowing = undefined;
    }
  };

  return {
    /** Follows the log for one client: what it missed after `after`, then live, each event once and in order. */
    serve(c: Context, after: string | undefined) {
      return streamSSE(c, async (stream) => {
        const client: Client = { last: after ?? '0-0', pending: [], live: false, writing: false, behind: false, stream };
        // Listening before reading the backlog: nothing appended in between is missed (ids keep duplicates out).
        join(client);
        stream.onAbort(() => leave(client));
        try {
          if (after === undefined) client.last = await events.latest();
          else {
            const missed = await events.since(after);
            let text = missed === undefined ? resetText('the resume point is older than the events Hoist keeps: reload') : '';
            for (const event of missed ?? []) {
              if (compareIds(event.id, client.last) <= 0) continue;
              text += frame(event).text;
              client.last = event.id;
            }
            if (text) await stream.write(text);
          }
          client.live = true;
          flushClient(client);
          while (!stream.aborted) {
            await stream.sleep(heartbeatMs);
            if (!stream.aborted && !client.writing) await stream.write(': keep-alive\n\n');
          }
        } finally {
          leave(client);
        }
      });
    },
  };
}

export type EventStreams = ReturnType<typeof createEventStreams>;
