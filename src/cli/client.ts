import { HoistError, type HoistErrorCode } from '../errors.js';
import type { Overview } from '../service/overview.js';
import type { HistoryEntry, PromotionPreview, PromotionView } from '../service/promotion-service.js';

/** GET /api/me. */
export interface Me {
  user: string;
  groups: string[];
  via: 'session' | 'token' | 'robot';
}

/** What the events stream hands its reader: an event, a keep-alive, or a (re)connection. */
export type StreamItem =
  | { kind: 'open' }
  | { kind: 'heartbeat' }
  | { kind: 'event'; event: string; data: string; id: string | undefined };

export interface HoistClient {
  readonly url: string;
  me(): Promise<Me>;
  status(app?: string): Promise<Overview>;
  promote(input: { apps: readonly string[]; env: string; tag?: string | undefined }): Promise<PromotionView>;
  promotion(id: string): Promise<PromotionView>;
  approve(id: string): Promise<PromotionView>;
  cancel(id: string): Promise<PromotionView>;
  rollback(input: { app: string; env: string; tag?: string | undefined }): Promise<PromotionView>;
  /** `POST /api/promotions/{id}/rollout`: Argo CD's resume, promote-full or abort on the promotion's Rollout. */
  rollout(id: string, action: string): Promise<PromotionView>;
  history(filter: { app: string; env?: string | undefined }): Promise<{ entries: HistoryEntry[] }>;
  preview(input: { apps: readonly string[]; env: string; tag?: string | undefined }): Promise<PromotionPreview>;
  /**
   * `GET /api/events`, followed until `signal` aborts: it reconnects by itself after a dropped connection (resuming
   * after the last event id) and yields `open` each time, since events may have been missed in between.
   */
  events(signal: AbortSignal): AsyncGenerator<StreamItem>;
}

export interface ClientOptions {
  url: string;
  token: string;
  fetch?: typeof fetch;
  /** How long a request may take, and a connection to the events stream may take to answer. */
  timeoutMs?: number;
  /** The events stream sends a keep-alive every 15 s: this long without a byte means the connection is dead. */
  idleMs?: number;
  /** Consecutive failed connections to the events stream before giving up. */
  reconnects?: number;
}

/** Refusals the API names: anything else that is 4xx is still a refusal. */
const REFUSALS: ReadonlySet<string> = new Set(['bad_request', 'unauthorized', 'forbidden', 'not_found', 'conflict', 'payload_too_large']);

/** Why a request never got an answer, in words (undici puts the system error in `cause`). */
function whyUnreachable(error: unknown, timeoutMs: number): string {
  const err = error as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (err?.name === 'TimeoutError') return `no answer within ${Math.round(timeoutMs / 1000)}s`;
  const code = err?.cause?.code ?? (error as { code?: string })?.code;
  const words: Record<string, string> = {
    ECONNREFUSED: 'connection refused',
    ENOTFOUND: 'host not found (DNS)',
    EAI_AGAIN: 'host not found (DNS, try again)',
    ECONNRESET: 'connection reset',
    EHOSTUNREACH: 'host unreachable',
    ENETUNREACH: 'network unreachable',
    ETIMEDOUT: 'connection timed out',
    UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
    UND_ERR_SOCKET: 'connection closed',
  };
  if (code && words[code]) return `${words[code]} (${code})`;
  return err?.cause?.message ?? err?.message ?? String(error);
}

export function createHoistClient(options: ClientOptions): HoistClient {
  const base = options.url.replace(/\/+$/, '');
  const doFetch = options.fetch ?? fetch;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const idleMs = options.idleMs ?? 60_000;
  const reconnects = options.reconnects ?? 5;
  const auth = { Authorization: `Bearer ${options.token}` };
  const unreachable = (error: unknown) => new HoistError('unavailable', `cannot reach Hoist at ${base}: ${whyUnreachable(error, timeoutMs)}`, { cause: error });

  /** An answer that is not 2xx, as the one error type: 5xx is Hoist (or what is in front of it) unable to serve. */
  const refusal = (method: string, path: string, status: number, body: unknown, contentType: string) => {
    const shaped = typeof body === 'object' && body !== null && typeof (body as { error?: unknown }).error === 'string' ? (body as { error: string; code?: unknown; details?: unknown }) : undefined;
    const message = shaped?.error ?? `${method} ${path} answered ${status}${contentType ? ` (${contentType.split(';')[0]})` : ''}: is ${base} a Hoist?`;
    const serverCode = typeof shaped?.code === 'string' ? shaped.code : undefined;
    const details = { status, ...(serverCode ? { code: serverCode } : {}), ...(shaped?.details !== undefined ? { details: shaped.details } : {}) };
    if (status >= 500) return new HoistError('unavailable', `Hoist at ${base} answered ${status}: ${message}`, { details });
    const code = (serverCode && REFUSALS.has(serverCode) ? serverCode : 'bad_request') as HoistErrorCode;
    return new HoistError(code, message, { details });
  };

  async function request<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    let res: Response;
    let text: string;
    try {
      res = await doFetch(`${base}${path}`, {
        method,
        headers: { ...auth, Accept: 'application/json', ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(timeoutMs),
        redirect: 'manual',
      });
      text = await res.text();
    } catch (error) {
      throw unreachable(error);
    }
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    const contentType = res.headers.get('content-type') ?? '';
    if (res.status >= 200 && res.status < 300 && parsed !== undefined) return parsed as T;
    if (res.status >= 300 && res.status < 400) {
      // A redirect would carry the token to wherever it points: name it instead of following it.
      throw new HoistError('bad_request', `${method} ${path} was redirected to ${res.headers.get('location') ?? '?'}: use that URL for Hoist (hoist login --url …)`, { details: { status: res.status } });
    }
    throw refusal(method, path, res.status, parsed, contentType);
  }

  const query = (params: Record<string, string | undefined>) => {
    const q = new URLSearchParams(Object.entries(params).filter((e): e is [string, string] => e[1] !== undefined && e[1] !== ''));
    const text = q.toString();
    return text ? `?${text}` : '';
  };
  const idPath = (id: string) => `/api/promotions/${encodeURIComponent(id)}`;

  async function* events(signal: AbortSignal): AsyncGenerator<StreamItem> {
    let lastId: string | undefined;
    let failures = 0;
    while (!signal.aborted) {
      // One controller per connection: the caller's abort, a connect timeout, and the idle watchdog all end it.
      const connection = new AbortController();
      const onAbort = () => connection.abort();
      signal.addEventListener('abort', onAbort, { once: true });
      let watchdog = setTimeout(() => connection.abort(new DOMException('no answer', 'TimeoutError')), timeoutMs);
      const feed = () => {
        clearTimeout(watchdog);
        watchdog = setTimeout(() => connection.abort(new DOMException('silent', 'TimeoutError')), idleMs);
      };
      let failure: HoistError | undefined;
      try {
        const res = await doFetch(`${base}/api/events`, {
          headers: { ...auth, Accept: 'text/event-stream', ...(lastId ? { 'Last-Event-ID': lastId } : {}) },
          signal: connection.signal,
          redirect: 'manual',
        });
        if (res.status !== 200 || !res.body) {
          const text = await res.text().catch(() => '');
          let parsed: unknown;
          try {
            parsed = JSON.parse(text);
          } catch {
            parsed = undefined;
          }
          const error = refusal('GET', '/api/events', res.status, parsed, res.headers.get('content-type') ?? '');
          if (error.code !== 'unavailable') throw error;
          failure = error;
        } else {
          feed();
          failures = 0;
          yield { kind: 'open' };
          let buffer = '';
          let event = { name: 'message', data: [] as string[], id: undefined as string | undefined };
          const decoder = new TextDecoder();
          for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
            feed();
            buffer += decoder.decode(chunk, { stream: true });
            const lines = buffer.split(/\r\n|\r|\n/);
            buffer = lines.pop() ?? '';
            for (const line of lines) {
              if (line === '') {
                if (event.data.length > 0 || event.name !== 'message') {
                  if (event.id !== undefined) lastId = event.id;
                  yield { kind: 'event', event: event.name, data: event.data.join('\n'), id: event.id };
                }
                event = { name: 'message', data: [], id: undefined };
                continue;
              }
              if (line.startsWith(':')) {
                yield { kind: 'heartbeat' };
                continue;
              }
              const colon = line.indexOf(':');
              const field = colon < 0 ? line : line.slice(0, colon);
              const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
              if (field === 'event') event.name = value;
              else if (field === 'data') event.data.push(value);
              else if (field === 'id') event.id = value;
            }
          }
          failure = unreachable(new Error('the events stream ended'));
        }
      } catch (error) {
        if (signal.aborted) return;
        if (error instanceof HoistError) throw error;
        failure = unreachable(error);
      } finally {
        clearTimeout(watchdog);
        signal.removeEventListener('abort', onAbort);
        connection.abort();
      }
      failures += 1;
      if (failures > reconnects) throw failure;
      // A short, growing pause: Hoist restarting (a rollout) is back within seconds.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(500 * 2 ** (failures - 1), 8_000));
        signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
      });
    }
  }

  return {
    url: base,
    me: () => request<Me>('GET', '/api/me'),
    status: (app) => request<Overview>('GET', `/api/status${query({ app })}`),
    promote: (input) => request<PromotionView>('POST', '/api/promotions', { ...(input.apps.length === 1 ? { app: input.apps[0] } : { apps: input.apps }), env: input.env, ...(input.tag ? { tag: input.tag } : {}) }),
    promotion: (id) => request<PromotionView>('GET', idPath(id)),
    approve: (id) => request<PromotionView>('POST', `${idPath(id)}/approve`),
    cancel: (id) => request<PromotionView>('POST', `${idPath(id)}/cancel`),
    rollback: (input) => request<PromotionView>('POST', '/api/rollbacks', { app: input.app, env: input.env, ...(input.tag ? { tag: input.tag } : {}) }),
    rollout: (id, action) => request<PromotionView>('POST', `${idPath(id)}/rollout`, { action }),
    history: (filter) => request<{ entries: HistoryEntry[] }>('GET', `/api/history${query({ app: filter.app, env: filter.env })}`),
    preview: (input) => request<PromotionPreview>('GET', `/api/diff${query({ app: input.apps.join(','), env: input.env, tag: input.tag })}`),
    events,
  };
}
