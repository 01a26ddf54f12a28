import type { Context } from 'hono';
import { streamSSE, type SSEStreamingApi } from 'hono/streaming';
import { compareIds, type EventLog, type HoistEvent } from '../store/events.js';

/** One event as SSE text, made once however many clients follow. */
interface Frame {
  id: string;
  type: string;
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
  /** A board tab: one `changed` per flush, naming the newest id and the kinds of change, instead of every event. */
  summary: boolean;
  /** When it was last written to (summary clients are written to at most every `summaryFlushMs`). */
  flushedAt: number;
  stream: SSEStreamingApi;
}

export interface EventStreamOptions {
  /** How long events gather before each client gets them in one write. */
  flushMs?: number;
  /** The same for summary clients (board tabs): they redraw on the first change of a burst and fetch the rest. */
  summaryFlushMs?: number;
  /** A client this far behind (frames not yet written to it) gets `reset` and the newest state instead. */
  maxPending?: number;
  heartbeatMs?: number;
}

const frame = (event: HoistEvent): Frame => ({ id: event.id, type: event.type, text: `id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify(event.data)}\n\n` });
const resetText = (reason: string) => `event: reset\ndata: ${JSON.stringify({ reason })}\n\n`;
/** What a summary client gets for a run of events: the newest id (to resume from) and what kinds they were. */
const summaryText = (events: ReadonlyArray<{ id: string; type: string }>) => {
  const newest = events[events.length - 1];
  if (!newest) return '';
  return `id: ${newest.id}\nevent: changed\ndata: ${JSON.stringify({ count: events.length, types: [...new Set(events.map((e) => e.type))] })}\n\n`;
};

/**
 * `GET /api/events` for every client of this process through one follower of the event log: each event is
 * serialised once and each client gets what gathered in one write per flush, so a hundred open boards cost a
 * hundred writes per flush, not a hundred per event. A client that cannot keep up is told to reload (`reset`)
 * instead of holding an ever-growing buffer. A summary client (a board tab, which redraws from what it fetches
 * anyway) gets one small `changed` per flush instead of every event: at 500 events a second, 25 times fewer bytes.
 */
export function createEventStreams(events: EventLog, options: EventStreamOptions = {}) {
  const flushMs = options.flushMs ?? 50;
  const summaryFlushMs = options.summaryFlushMs ?? 250;
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
  const flushClient = (client: Client, shared?: Map<string, Uint8Array>): boolean => {
    if (!client.live || client.writing || (client.pending.length === 0 && !client.behind) || client.stream.aborted) return false;
    const newest = client.pending.at(-1);
    const key = !client.behind && shared && newest ? `${client.summary ? 's' : 'e'} ${client.last} ${client.pending.length} ${newest.id}` : undefined;
    const same = key === undefined ? undefined : shared?.get(key);
    if (same && newest) {
      client.pending = [];
      client.last = newest.id;
      write(client, same);
      return true;
    }
    let text = client.behind ? resetText('this client fell behind the events: reload') : '';
    client.behind = false;
    const fresh = client.pending.filter((f) => compareIds(f.id, client.last) > 0);
    if (client.summary) text += summaryText(fresh);
    else for (const f of fresh) text += f.text;
    const newestFresh = fresh[fresh.length - 1];
    if (newestFresh) client.last = newestFresh.id;
    client.pending = [];
    if (!text) return false;
    if (key === undefined) {
      write(client, text);
      return true;
    }
    const bytes = encoder.encode(text);
    shared?.set(key, bytes);
    write(client, bytes);
    return true;
  };

  const flush = () => {
    timer = undefined;
    const shared = new Map<string, Uint8Array>();
    const now = Date.now();
    for (const client of clients) {
      // A summary client only needs to know that something changed: under a steady stream of events it is
      // written to every `summaryFlushMs`, a lone change still reaches it within `flushMs`.
      if (client.summary && now - client.flushedAt < summaryFlushMs) continue;
      if (flushClient(client, shared)) client.flushedAt = now;
    }
    // A client still writing, or not due yet, keeps its frames for the next round.
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
    serve(c: Context, after: string | undefined, serveOptions: { summary?: boolean } = {}) {
      return streamSSE(c, async (stream) => {
        const client: Client = { last: after ?? '0-0', pending: [], live: false, writing: false, behind: false, summary: serveOptions.summary === true, flushedAt: 0, stream };
        // Listening before reading the backlog: nothing appended in between is missed (ids keep duplicates out).
        join(client);
        stream.onAbort(() => leave(client));
        try {
          if (after === undefined) client.last = await events.latest();
          else {
            const missed = await events.since(after);
            let text = missed === undefined ? resetText('the resume point is older than the events Hoist keeps: reload') : '';
            const fresh = (missed ?? []).filter((event) => compareIds(event.id, client.last) > 0);
            if (client.summary) text += summaryText(fresh);
            else for (const event of fresh) text += frame(event).text;
            const newestFresh = fresh[fresh.length - 1];
            if (newestFresh) client.last = newestFresh.id;
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
