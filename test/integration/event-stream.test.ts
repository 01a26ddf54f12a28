import { randomBytes } from 'node:crypto';
import { Hono } from 'hono';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { createEventStreams } from '../../src/http/event-stream.js';
import { createEventLog, type EventLog } from '../../src/store/events.js';

// GET /api/events fans one follower of the Redis event log out to every client of the process.

/** Reads SSE frames from a response until `until` says enough; returns them parsed. */
async function readFrames(res: Response, until: (frames: Array<{ id?: string; event?: string; data?: string }>) => boolean) {
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let text = '';
  const frames: Array<{ id?: string; event?: string; data?: string }> = [];
  while (!until(frames)) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
    let end: number;
    while ((end = text.indexOf('\n\n')) >= 0) {
      const block = text.slice(0, end);
      text = text.slice(end + 2);
      if (block.startsWith(':')) continue;
      const f: Record<string, string> = {};
      for (const line of block.split('\n')) {
        const at = line.indexOf(': ');
        f[line.slice(0, at)] = line.slice(at + 2);
      }
      frames.push(f);
    }
  }
  await reader.cancel();
  return frames;
}

describe('the events stream, many clients', () => {
  let redis: Redis;
  let readers: Redis[];
  let log: EventLog;

  beforeEach(() => {
    redis = new Redis(inject('redisUrl'));
    readers = [];
    log = createEventLog(
      redis,
      () => {
        const r = new Redis(inject('redisUrl'));
        readers.push(r);
        return r;
      },
      `test-${randomBytes(4).toString('hex')}`,
    );
  });
  afterEach(async () => {
    await log.close();
    for (const r of readers) r.disconnect();
    redis.disconnect();
  });

  const appWith = (options: Parameters<typeof createEventStreams>[1]) => {
    const streams = createEventStreams(log, options);
    return new Hono().get('/events', (c) => streams.serve(c, c.req.header('last-event-id'), { summary: c.req.query('summary') === 'true' }));
  };

  it('sends every client each event once, in order, however many follow', async () => {
    const app = appWith({ flushMs: 20 });
    await log.publish('promotion', { id: 'p-0', state: 'queued' });
    const responses = await Promise.all(Array.from({ length: 30 }, () => app.request('/events')));
    // Each stream is open (its backlog read) before anything is published.
    const reading = responses.map((res) => readFrames(res, (frames) => frames.length >= 100));
    await new Promise((resolve) => setTimeout(resolve, 200));
    for (let i = 1; i <= 100; i++) await log.publish('promotion', { id: `p-${i}`, state: 'committed' });
    const all = await Promise.all(reading);
    for (const frames of all) {
      expect(frames.map((f) => JSON.parse(f.data ?? '{}').id)).toEqual(Array.from({ length: 100 }, (_, i) => `p-${i + 1}`));
      expect(frames.every((f) => f.event === 'promotion' && f.id !== undefined)).toBe(true);
    }
    // A client resuming after the 50th gets the 50 after it, and nothing twice.
    const resumeAt = all[0]![49]!.id!;
    const again = await readFrames(await app.request('/events', { headers: { 'Last-Event-ID': resumeAt } }), (frames) => frames.length >= 50);
    expect(again.map((f) => JSON.parse(f.data ?? '{}').id)).toEqual(Array.from({ length: 50 }, (_, i) => `p-${i + 51}`));
  });

  it('gives clients that joined at different points each their own sequence, while events keep coming', async () => {
    const app = appWith({ flushMs: 5 });
    const publish = async (from: number, to: number) => {
      for (let i = from; i <= to; i++) await log.publish('promotion', { id: `p-${i}`, state: 'committed' });
    };
    await log.publish('promotion', { id: 'p-0', state: 'queued' });
    const start = await log.latest();
    await publish(1, 40);
    const ids = ((await log.since(start)) ?? []).map((e) => e.id);
    // Some follow live, some resume from different earlier events; all of them while the next 80 are published.
    const opening = [undefined, undefined, ids[9], ids[9], ids[24], ids[39]].map((after) => app.request('/events', after ? { headers: { 'Last-Event-ID': after } } : {}));
    const publishing = publish(41, 120);
    const responses = await Promise.all(opening);
    const frames = await Promise.all(responses.map((res) => readFrames(res, (f) => f.some((x) => JSON.parse(x.data ?? '{}').id === 'p-120'))));
    await publishing;
    const seen = frames.map((f) => f.map((x) => Number(JSON.parse(x.data ?? '{}').id.slice(2))));
    // A resuming client gets exactly what came after its point; a live one a gap-free run that ends at the newest.
    expect(seen[2]).toEqual(Array.from({ length: 110 }, (_, i) => i + 11));
    expect(seen[3]).toEqual(seen[2]);
    expect(seen[4]).toEqual(Array.from({ length: 95 }, (_, i) => i + 26));
    expect(seen[5]).toEqual(Array.from({ length: 80 }, (_, i) => i + 41));
    for (const live of [seen[0]!, seen[1]!]) {
      expect(live.at(-1)).toBe(120);
      expect(live).toEqual(Array.from({ length: live.length }, (_, i) => 121 - live.length + i));
    }
  });

  it('gives a summary client one `changed` per burst, with the newest id to resume from, beside full clients', async () => {
    const app = appWith({ flushMs: 100 });
    await log.publish('promotion', { id: 'p-0', state: 'queued' });
    const [summary, full] = await Promise.all([app.request('/events?summary=true'), app.request('/events')]);
    const summaryFrames = readFrames(summary, (f) => f.reduce((n, x) => n + (JSON.parse(x.data ?? '{}').count ?? 0), 0) >= 31);
    const fullFrames = readFrames(full, (f) => f.length >= 31);
    await new Promise((resolve) => setTimeout(resolve, 200));
    // A burst of 30 promotion events and one health event, then nothing.
    for (let i = 1; i <= 30; i++) await log.publish('promotion', { id: `p-${i}`, state: 'committed' });
    await log.publish('health', { env: 'dev', app: 'web', tag: 'v1', status: 'Healthy' });
    const [changes, every] = await Promise.all([summaryFrames, fullFrames]);
    expect(every).toHaveLength(31);
    // Far fewer frames than events, every one a `changed`, together counting all 31 and naming both kinds.
    expect(changes.length).toBeLessThan(10);
    expect(changes.every((f) => f.event === 'changed')).toBe(true);
    expect(changes.reduce((n, f) => n + JSON.parse(f.data ?? '{}').count, 0)).toBe(31);
    expect(new Set(changes.flatMap((f) => JSON.parse(f.data ?? '{}').types))).toEqual(new Set(['promotion', 'health']));
    // The last `changed` carries the newest event's id: resuming from it misses nothing and repeats nothing.
    expect(changes.at(-1)?.id).toBe(every.at(-1)?.id);
    const resumeAt = every[9]!.id!;
    const resumed = await readFrames(await app.request('/events?summary=true', { headers: { 'Last-Event-ID': resumeAt } }), (f) => f.length >= 1);
    expect(resumed).toEqual([{ id: every.at(-1)?.id, event: 'changed', data: JSON.stringify({ count: 21, types: ['promotion', 'health'] }) }]);
  });

  it('misses none of the first events of an empty log while its follower is still connecting', async () => {
    // A follower whose blocking connection comes up only after events were appended, as on a loaded machine.
    const slowLog = createEventLog(
      redis,
      () => {
        const r = new Redis(inject('redisUrl'));
        readers.push(r);
        // Its first blocking read reaches Redis 300 ms late.
        const xread = r.xread.bind(r) as (...args: unknown[]) => Promise<unknown>;
        let first = true;
        (r as unknown as { xread: (...args: unknown[]) => Promise<unknown> }).xread = async (...args) => {
          if (first) await new Promise((resolve) => setTimeout(resolve, 300));
          first = false;
          return xread(...args);
        };
        return r;
      },
      `test-${randomBytes(4).toString('hex')}`,
    );
    try {
      const seen: string[] = [];
      const stop = slowLog.follow((event) => seen.push(event.data.id ?? ''));
      await new Promise((resolve) => setTimeout(resolve, 50));
      for (let i = 1; i <= 5; i++) await slowLog.publish('promotion', { id: `p-${i}`, state: 'queued' });
      for (let i = 0; seen.length < 5 && i < 100; i++) await new Promise((resolve) => setTimeout(resolve, 50));
      stop();
      expect(seen).toEqual(['p-1', 'p-2', 'p-3', 'p-4', 'p-5']);
    } finally {
      await slowLog.close();
    }
  });

  it('tells a client that stopped reading to reload, instead of buffering for it without end', async () => {
    const app = appWith({ flushMs: 10, maxPending: 20 });
    const stuck = await app.request('/events');
    const reader = (stuck.body as ReadableStream<Uint8Array>).getReader();
    await new Promise((resolve) => setTimeout(resolve, 200));
    // The client reads nothing while 200 events happen: its writes back up and it falls behind.
    for (let i = 1; i <= 200; i++) await log.publish('promotion', { id: `p-${i}`, state: 'committed' });
    await new Promise((resolve) => setTimeout(resolve, 200));
    await log.publish('promotion', { id: 'p-last', state: 'committed' });
    const decoder = new TextDecoder();
    let text = '';
    while (!text.includes('"id":"p-last"')) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    await reader.cancel();
    expect(text).toContain('event: reset');
    expect(text).toContain('fell behind');
    // It never got all 200: what it missed was dropped, and the newest event follows the reset.
    expect((text.match(/event: promotion/g) ?? []).length).toBeLessThan(200);
    expect(text.indexOf('event: reset')).toBeLessThan(text.indexOf('"id":"p-last"'));
  });
});
