/**
 * The chat endpoints end to end over HTTP, with real form bodies derived from Slack's and
 * Mattermost's documented requests (test/fixtures/chat), the response_url played by a local
 * HTTP server that records what Hoist posts, Slack's replay guard on the suite's real Redis, and an
 * in-test PromotionService (our own interface) that records calls and answers with canned views.
 */
import { createHmac, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { HoistError } from '../../src/errors.js';
import { chatops, type ChatopsDeps } from '../../src/http/chatops.js';
import { createRedisConnection } from '../../src/queue/connection.js';
import { createReplayGuard } from '../../src/store/replay-guard.js';
import type { Actor, EnvironmentStatus, HistoryEntry, PromotionService, PromotionView } from '../../src/service/promotion-service.js';
import { PROJECT_ROOT } from '../helpers/git-repos.js';

const FIXTURES = join(PROJECT_ROOT, 'test/fixtures/chat');
const SIGNING_SECRET = 'test-slack-signing-secret';
const MATTERMOST_TOKEN = 'okwexkjpe7ygb8eq1ww58t483w'; // the documented request's own token
const NOW_MS = 1_800_000_000_000;
const NOW_S = NOW_MS / 1000;
const USERS = { U024BE7LH: 'alice', aoa1agao6t8fmx3ikt1j9w5ybw: 'bob' };

// --- fixtures -------------------------------------------------------------------------------------

/** Slack's legacy sample: `name=value` lines after `#` comments, as the form fields Slack sends. */
function slackSampleFields(): URLSearchParams {
  const lines = readFileSync(join(FIXTURES, 'slack-slash-command-legacy-doc-sample.txt'), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.startsWith('#'));
  return new URLSearchParams(lines.join('&'));
}

/** Mattermost's documented request: headers, then the body printed one field per line (joined with `&` on the wire). */
function mattermostSample(): { headers: Record<string, string>; body: string } {
  const text = readFileSync(join(FIXTURES, 'mattermost-slash-command-request.http'), 'utf8');
  const [head = '', rest = ''] = text.split(/\r?\n\r?\n/);
  const headers: Record<string, string> = {};
  for (const line of head.split('\n').slice(1)) {
    const at = line.indexOf(':');
    headers[line.slice(0, at).trim().toLowerCase()] = line.slice(at + 1).trim();
  }
  const body = rest
    .split('\n')
    .map((line) => line.trim().replace(/&$/, ''))
    .filter((line) => line !== '')
    .join('&');
  return { headers, body };
}

// --- Slack's response_url -------------------------------------------------------------------------

interface Posted {
  path: string;
  contentType: string | undefined;
  body: { response_type: string; text: string; blocks?: Array<Record<string, unknown>>; replace_original?: boolean };
}

let responseServer: Server;
let responseBase: string;
/** host:port of the recording server, as it goes into responseHosts. */
let responseHost: string;
const posted: Posted[] = [];

async function waitForPosts(count: number, timeoutMs = 5_000): Promise<Posted[]> {
  const until = Date.now() + timeoutMs;
  while (posted.length < count) {
    if (Date.now() > until) throw new Error(`expected ${count} posts to response_url, got ${posted.length}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return posted;
}

/** The first log line whose message matches, once it has been written (replies go out after the answer). */
async function waitForLog(message: RegExp, timeoutMs = 5_000): Promise<(typeof logs)[number]> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const line = logs.find((l) => message.test(l.msg));
    if (line) return line;
    if (Date.now() > until) throw new Error(`no log line matching ${message}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Lets detached work run, so "nothing happened" is checked after it would have. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 100));

beforeAll(async () => {
  responseServer = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      posted.push({ path: req.url ?? '', contentType: req.headers['content-type'], body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
      // What Slack's response_url answers.
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  await new Promise<void>((resolve) => responseServer.listen(0, '127.0.0.1', resolve));
  responseHost = `127.0.0.1:${(responseServer.address() as AddressInfo).port}`;
  responseBase = `http://${responseHost}`;
});
afterAll(() => new Promise<void>((resolve) => responseServer.close(() => resolve())));

let redis: Redis;
beforeAll(() => {
  redis = new Redis(inject('redisUrl'));
});
afterAll(async () => {
  await redis.quit();
});

// --- the service ----------------------------------------------------------------------------------

type Call = { method: keyof PromotionService; args: unknown[] };

class RecordingService implements PromotionService {
  calls: Call[] = [];
  failures = new Map<keyof PromotionService, Error>();
  delays = new Map<keyof PromotionService, number>();
  pending: PromotionView[] = [];

  private async enter(method: keyof PromotionService, args: unknown[]): Promise<void> {
    this.calls.push({ method, args });
    const delay = this.delays.get(method);
    if (delay) await new Promise((resolve) => setTimeout(resolve, delay));
    const failure = this.failures.get(method);
    if (failure) throw failure;
  }

  static view(overrides: Partial<PromotionView>): PromotionView {
    return {
      id: 'p-1',
      app: 'web',
      env: 'prod',
      tag: 'v1',
      apps: [{ app: 'web', tag: 'v1' }],
      state: 'awaiting-approval',
      kind: 'manual',
      image: 'registry.example.com/group/web',
      attempts: 0,
      approvals: { required: 2, given: [], missing: 2 },
      createdAt: '2026-11-23T09:00:00.000Z',
      updatedAt: '2026-11-23T09:00:00.000Z',
      ...overrides,
    };
  }

  async requestPromotion(input: { apps: string[]; to: string; tag?: string }, actor: Actor): Promise<PromotionView> {
    await this.enter('requestPromotion', [input, actor]);
    const tag = input.tag ?? 'v1';
    return RecordingService.view({ app: input.apps[0]!, env: input.to, tag, apps: input.apps.map((app) => ({ app, tag })), requestedBy: actor.name });
  }
  async approve(id: string, actor: Actor): Promise<PromotionView> {
    await this.enter('approve', [id, actor]);
    return RecordingService.view({ id, requestedBy: 'carol', approvals: { required: 2, given: [{ by: actor.name, at: '2026-11-23T09:05:00.000Z' }], missing: 1 } });
  }
  async cancel(id: string, actor: Actor): Promise<PromotionView> {
    await this.enter('cancel', [id, actor]);
    return RecordingService.view({ id, state: 'cancelled', reason: `cancelled by ${actor.name}`, approvals: undefined });
  }
  async rollback(input: { app: string; env: string; tag?: string }, actor: Actor): Promise<PromotionView> {
    await this.enter('rollback', [input, actor]);
    return RecordingService.view({ id: 'p-rb', kind: 'rollback', state: 'queued', app: input.app, env: input.env, tag: input.tag ?? 'v0', apps: [], approvals: undefined, requestedBy: actor.name });
  }
  async get(id: string): Promise<PromotionView> {
    await this.enter('get', [id]);
    return RecordingService.view({ id });
  }
  async listPending(env?: string): Promise<PromotionView[]> {
    await this.enter('listPending', [env]);
    return this.pending;
  }
  async preview(): Promise<never> {
    throw new Error('chat commands never preview');
  }
  async list(filter: Parameters<PromotionService['list']>[0]): Promise<PromotionView[]> {
    await this.enter('list', [filter]);
    return this.pending;
  }
  async status(app?: string): Promise<EnvironmentStatus> {
    await this.enter('status', [app]);
    return {
      commit: '9f8e7d6c5b4a39281706f5e4d3c2b1a0f9e8d7c6',
      environments: [
        { name: 'dev', apps: [{ app: 'web', tag: '4f2a9c1e' }] },
        { name: 'staging', apps: [{ app: 'web', tag: '4f2a9c1e' }] },
        { name: 'prod', apps: [{ app: 'web', tag: 'v1' }] },
      ],
    };
  }
  async history(filter: { app?: string; env?: string }): Promise<HistoryEntry[]> {
    await this.enter('history', [filter]);
    return [
      {
        commit: '4f2a9c1e0b9d8c7a6f5e4d3c2b1a09f8e7d6c5b4',
        date: '2026-11-23T09:00:00.000Z',
        app: 'web',
        env: 'prod',
        tag: 'v1',
        promotion: 'p-0',
        kind: 'manual',
        source: 'https://gitlab.example.com/group/web/-/pipelines/4242',
        requestedBy: 'alice',
        approvedBy: ['bob'],
      },
    ];
  }

  methods(): string[] {
    return this.calls.map((c) => c.method);
  }
}

let service: RecordingService;
let app: ReturnType<typeof chatops>;
/** Each test's own replay-guard keys: the tests sign the same bodies at the same instant. */
let prefix: string;
let logs: Array<{ level: number; msg: string; reason?: string; host?: string; status?: number }>;

/** The endpoints as a test needs them; by default both platforms may post to the recording server. */
function chatApp(overrides: Partial<ChatopsDeps> = {}): ReturnType<typeof chatops> {
  const destination = new Writable({
    write(chunk: Buffer, _enc, callback) {
      logs.push(JSON.parse(chunk.toString()) as (typeof logs)[number]);
      callback();
    },
  });
  return chatops({
    service,
    slack: { signingSecret: SIGNING_SECRET, responseHosts: [responseHost] },
    mattermost: { token: MATTERMOST_TOKEN, responseHosts: [responseHost] },
    users: USERS,
    replayGuard: createReplayGuard(redis, prefix),
    logger: pino({ level: 'warn' }, destination),
    now: () => NOW_MS,
    ...overrides,
  });
}

beforeEach(() => {
  posted.length = 0;
  logs = [];
  prefix = `t${randomUUID().slice(0, 8)}`;
  service = new RecordingService();
  app = chatApp();
});

// --- Slack requests ------------------------------------------------------------------------------

/** A slash command body: the documented fields, with this test's user, text and response_url. */
function slashBody(text: string, options: { userId?: string; responseUrl?: string | null } = {}): string {
  const form = slackSampleFields();
  form.set('command', '/hoist');
  form.set('user_id', options.userId ?? 'U024BE7LH');
  form.set('text', text);
  if (options.responseUrl !== null) form.set('response_url', options.responseUrl ?? `${responseBase}/commands/T0001/1/abc`);
  return form.toString();
}

function buttonBody(options: { userId?: string; value?: string; actionId?: string } = {}): string {
  const payload = {
    type: 'block_actions',
    user: { id: options.userId ?? 'U024BE7LH', username: 'alice', name: 'alice', team_id: 'T0001' },
    api_app_id: 'A0001',
    token: 'gIkuvaNzQIHg97ATvDxqgjtO',
    container: { type: 'message', message_ts: '1548261231.000200', channel_id: 'C2147483705', is_ephemeral: false },
    trigger_id: '12466734323.1395872398.eac6d5b4e8f3e1f2b9f12e7e9d8a1f4c',
    team: { id: 'T0001', domain: 'example' },
    channel: { id: 'C2147483705', name: 'test' },
    response_url: `${responseBase}/actions/T0001/2/def`,
    actions: [
      {
        type: 'button',
        action_id: options.actionId ?? 'hoist_approve',
        block_id: 'x1',
        text: { type: 'plain_text', text: 'Approve', emoji: true },
        value: options.value ?? 'p-1',
        style: 'primary',
        action_ts: '1548426417.840180',
      },
    ],
  };
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}

function signature(body: string, timestamp: number | string, secret = SIGNING_SECRET): string {
  return `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
}

function postSlack(body: string, headers?: Record<string, string>): Promise<Response> {
  return Promise.resolve(
    app.request('/slack', {
      method: 'POST',
      headers: headers ?? {
        'content-type': 'application/x-www-form-urlencoded',
        'x-slack-request-timestamp': String(NOW_S),
        'x-slack-signature': signature(body, NOW_S),
      },
      body,
    }),
  );
}

describe('POST /slack: slash commands', () => {
  it('acknowledges a promotion at once, then posts the outcome with an Approve button to response_url', async () => {
    service.delays.set('requestPromotion', 300);
    const started = Date.now();
    const res = await postSlack(slashBody('promote web prod'));
    expect(Date.now() - started).toBeLessThan(300);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.json()).toEqual({ response_type: 'ephemeral', text: '⏳ asking Hoist to promote web to prod…' });

    const [outcome] = await waitForPosts(1);
    expect(service.calls).toEqual([{ method: 'requestPromotion', args: [{ apps: ['web'], to: 'prod' }, { name: 'alice', via: 'slack' }] }]);
    expect(outcome!.path).toBe('/commands/T0001/1/abc');
    expect(outcome!.contentType).toBe('application/json');
    expect(outcome!.body.response_type).toBe('in_channel');
    expect(outcome!.body.text).toContain('alice asked to promote web to prod:');
    expect(outcome!.body.text).toContain('✋ *Promotion p-1* · web `v1` → *prod* · awaiting-approval (manual, requested by alice)');
    expect(outcome!.body.text).toContain('Approvals: 0 of 2; 2 missing');
    expect(outcome!.body.text).toContain('Approve with `/hoist approve p-1`');
    expect(outcome!.body.blocks).toEqual([
      { type: 'section', text: { type: 'mrkdwn', text: outcome!.body.text } },
      { type: 'actions', elements: [{ type: 'button', action_id: 'hoist_approve', style: 'primary', text: { type: 'plain_text', text: 'Approve' }, value: 'p-1' }] },
    ]);
  });

  it('passes a release train and a tag through, typed with spaces after the comma', async () => {
    const res = await postSlack(slashBody('  Promote  web, api   prod  v2 '));
    expect((await res.json()) as unknown).toMatchObject({ response_type: 'ephemeral', text: '⏳ asking Hoist to promote web, api to prod at `v2`…' });
    const [outcome] = await waitForPosts(1);
    expect(service.calls[0]).toEqual({ method: 'requestPromotion', args: [{ apps: ['web', 'api'], to: 'prod', tag: 'v2' }, { name: 'alice', via: 'slack' }] });
    expect(outcome!.body.text).toContain('web `v2`, api `v2` → *prod*');
  });

  it('cancels and rolls back for mapped users, posting without a button once nothing awaits approval', async () => {
    await postSlack(slashBody('cancel p-1'));
    await postSlack(slashBody('rollback web prod v0'));
    const outcomes = await waitForPosts(2);
    expect(service.calls.map((c) => [c.method, ...c.args])).toEqual(
      expect.arrayContaining([
        ['cancel', 'p-1', { name: 'alice', via: 'slack' }],
        ['rollback', { app: 'web', env: 'prod', tag: 'v0' }, { name: 'alice', via: 'slack' }],
      ]),
    );
    expect(outcomes.map((p) => p.body.blocks)).toEqual([undefined, undefined]);
    expect(outcomes.map((p) => p.body.text).join('\n')).toMatch(/alice cancelled `p-1`:[\s\S]*🚫 \*Promotion p-1\*/);
    expect(outcomes.map((p) => p.body.text).join('\n')).toContain('alice asked to roll back web in prod:');
  });

  it('posts a service refusal to the requester only, in words', async () => {
    service.failures.set('requestPromotion', new HoistError('forbidden', 'alice is not allowed to promote to prod (rbac.promote.prod)'));
    const res = await postSlack(slashBody('promote web prod'));
    expect(res.status).toBe(200);
    const [outcome] = await waitForPosts(1);
    expect(outcome!.body).toEqual({ response_type: 'ephemeral', text: '🚫 not allowed: alice is not allowed to promote to prod (rbac.promote.prod)' });
  });

  it('never answers 500 to Slack: an unexpected failure becomes a message too', async () => {
    service.failures.set('approve', new Error('socket hang up'));
    const res = await postSlack(slashBody('approve p-1'));
    expect(res.status).toBe(200);
    const [outcome] = await waitForPosts(1);
    expect(outcome!.body.response_type).toBe('ephemeral');
    expect(outcome!.body.text).toMatch(/failed inside Hoist/);
    expect(outcome!.body.text).not.toContain('socket hang up');
  });

  it('answers reads directly in the response', async () => {
    service.pending = [RecordingService.view({})];
    const status = await postSlack(slashBody('status web'));
    const statusJson = (await status.json()) as { response_type: string; text: string };
    expect(statusJson.response_type).toBe('ephemeral');
    expect(statusJson.text).toContain('app  dev       staging   prod\nweb  4f2a9c1e  4f2a9c1e  v1');
    expect(statusJson.text).toContain('• `p-1` web `v1` → prod · awaiting-approval (2 approvals missing)');

    const history = (await (await postSlack(slashBody('history web prod'))).json()) as { text: string };
    expect(history.text).toContain('*History of web in prod*');
    expect(history.text).toContain('<https://gitlab.example.com/group/web/-/pipelines/4242|pipeline>');

    const help = (await (await postSlack(slashBody(''))).json()) as { text: string };
    expect(help.text).toContain('`/hoist promote &lt;app&gt;[,&lt;app&gt;…] &lt;env&gt; [tag]`');

    expect(service.calls).toEqual([
      { method: 'status', args: ['web'] },
      { method: 'listPending', args: [undefined] },
      { method: 'history', args: [{ app: 'web', env: 'prod' }] },
    ]);
    await settle();
    expect(posted).toEqual([]);
  });

  it('acknowledges a slow read before Slack gives up, and posts the answer when it comes', async () => {
    service.delays.set('status', 2_300);
    const started = Date.now();
    const res = await postSlack(slashBody('status'));
    expect(Date.now() - started).toBeLessThan(2_300);
    expect(await res.json()).toEqual({ response_type: 'ephemeral', text: '⏳ looking… the answer follows.' });
    const [answer] = await waitForPosts(1);
    expect(answer!.body.text).toContain('*Environments* at `9f8e7d6c`');
  });

  it('answers in the response when a request carries no response_url (the legacy sample has none)', async () => {
    const res = await postSlack(slashBody('promote web staging', { responseUrl: null }));
    const json = (await res.json()) as { response_type: string; text: string; blocks?: unknown[] };
    expect(json.response_type).toBe('in_channel');
    expect(json.text).toContain('alice asked to promote web to staging:');
    expect(json.blocks).toHaveLength(2);
  });

  it('answers a typo with a suggestion and calls nothing', async () => {
    const res = await postSlack(slashBody('promte web prod'));
    expect(await res.json()).toEqual({
      response_type: 'ephemeral',
      text: 'unknown command `promte` — did you mean `promote`? Usage: `promote &lt;app&gt;[,&lt;app&gt;…] &lt;env&gt; [tag]`',
    });
    const arity = (await (await postSlack(slashBody('approve'))).json()) as { text: string };
    expect(arity.text).toBe('`approve` needs a promotion id. Usage: `approve &lt;id&gt;`');
    await settle();
    expect(service.calls).toEqual([]);
    expect(posted).toEqual([]);
  });

  it('refuses to act for a chat user missing from chatops.users, but lets them read', async () => {
    const refused = await postSlack(slashBody('promote web prod', { userId: 'U2147483697' }));
    expect(refused.status).toBe(200);
    const json = (await refused.json()) as { response_type: string; text: string };
    expect(json.response_type).toBe('ephemeral');
    expect(json.text).toContain('not allowed: your Slack user id `U2147483697` is not mapped in `chatops.users`');
    expect(service.calls).toEqual([]);

    const status = (await (await postSlack(slashBody('status', { userId: 'U2147483697' }))).json()) as { text: string };
    expect(status.text).toContain('*Environments*');
    expect(service.methods()).toEqual(['status', 'listPending']);
    await settle();
    expect(posted).toEqual([]);
  });
});

describe('POST /slack: the Approve button', () => {
  it('approves as the mapped user who clicked, and posts the outcome as a new message', async () => {
    const res = await postSlack(buttonBody());
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('');
    const [outcome] = await waitForPosts(1);
    expect(service.calls).toEqual([{ method: 'approve', args: ['p-1', { name: 'alice', via: 'slack' }] }]);
    expect(outcome!.path).toBe('/actions/T0001/2/def');
    expect(outcome!.body).toMatchObject({ response_type: 'in_channel', replace_original: false });
    expect(outcome!.body.text).toContain('alice approved `p-1`:');
    expect(outcome!.body.text).toContain('Approvals: 1 of 2 (alice); 1 missing');
    // Still one approval short: the button stays on offer.
    expect(outcome!.body.blocks?.[1]).toMatchObject({ type: 'actions', elements: [{ action_id: 'hoist_approve', value: 'p-1' }] });
  });

  it('refuses a click by an unmapped user, privately', async () => {
    await postSlack(buttonBody({ userId: 'U0STRANGER' }));
    const [outcome] = await waitForPosts(1);
    expect(outcome!.body.response_type).toBe('ephemeral');
    expect(outcome!.body.text).toContain('your Slack user id `U0STRANGER` is not mapped in `chatops.users`');
    expect(service.calls).toEqual([]);
  });

  it('ignores other buttons and nonsense values without calling the service', async () => {
    expect((await postSlack(buttonBody({ actionId: 'something_else' }))).status).toBe(200);
    await postSlack(buttonBody({ value: 'p-1 p-2' }));
    const [outcome] = await waitForPosts(1);
    expect(outcome!.body.text).toMatch(/takes one promotion id/);
    await settle();
    expect(service.calls).toEqual([]);
    expect(posted).toHaveLength(1);
  });
});

describe('POST /slack: request verification', () => {
  const body = () => slashBody('promote web prod');
  const cases: Array<[string, () => Promise<Response>]> = [
    ['no signature headers', () => postSlack(body(), { 'content-type': 'application/x-www-form-urlencoded' })],
    ['no timestamp', () => postSlack(body(), { 'x-slack-signature': signature(body(), NOW_S) })],
    ['signed with another secret', () => postSlack(body(), { 'x-slack-request-timestamp': String(NOW_S), 'x-slack-signature': signature(body(), NOW_S, 'not-the-secret') })],
    [
      'a replay: correctly signed 6 minutes ago',
      () => postSlack(body(), { 'x-slack-request-timestamp': String(NOW_S - 360), 'x-slack-signature': signature(body(), NOW_S - 360) }),
    ],
    [
      'a tampered body',
      () => postSlack(body().replace('promote', 'rollback'), { 'x-slack-request-timestamp': String(NOW_S), 'x-slack-signature': signature(body(), NOW_S) }),
    ],
    ['a tampered button click', () => postSlack(buttonBody({ value: 'p-2' }), { 'x-slack-request-timestamp': String(NOW_S), 'x-slack-signature': signature(buttonBody(), NOW_S) })],
  ];
  it.each(cases)('401 for %s, and the service is never called', async (_name, send) => {
    const res = await send();
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ code: 'unauthorized', error: expect.stringMatching(/^not a valid Slack request/) });
    await settle();
    expect(service.calls).toEqual([]);
    expect(posted).toEqual([]);
  });

  it('accepts a body signed by the documented recipe at the edge of the window', async () => {
    const b = slashBody('help');
    const res = await postSlack(b, { 'x-slack-request-timestamp': String(NOW_S - 299), 'x-slack-signature': signature(b, NOW_S - 299) });
    expect(res.status).toBe(200);
  });

  it('refuses a command text over 1000 characters in words, and calls nothing', async () => {
    const res = await postSlack(slashBody(`status ${'x'.repeat(5_000)}`));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ response_type: 'ephemeral', text: 'the command is 5007 characters long: at most 1000 are read. `help` lists the commands' });
    await settle();
    expect(service.calls).toEqual([]);
    expect(posted).toEqual([]);
  });

  it('400 for a request whose user_id is over-long, naming the field and the limit', async () => {
    const res = await postSlack(slashBody('status', { userId: 'U'.repeat(101) }));
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ code: 'bad_request', error: 'user_id: at most 100 characters' });
    expect(service.calls).toEqual([]);
  });
});

describe('POST /slack: a signed request is taken once', () => {
  const headersFor = (body: string, timestamp = NOW_S) => ({
    'content-type': 'application/x-www-form-urlencoded',
    'x-slack-request-timestamp': String(timestamp),
    'x-slack-signature': signature(body, timestamp),
  });

  it('refuses the same signed request a second time with 401, saying it is a replay, and acts once', async () => {
    const body = slashBody('cancel p-1');
    const first = await postSlack(body, headersFor(body));
    expect(first.status).toBe(200);
    const replay = await postSlack(body, headersFor(body));
    expect(replay.status).toBe(401);
    expect(await replay.json()).toEqual({ code: 'unauthorized', error: 'not a valid Slack request: a replay of a request already received' });
    await waitForPosts(1);
    await settle();
    expect(service.methods()).toEqual(['cancel']);
    expect(posted).toHaveLength(1);
  });

  it('refuses a replayed button click too', async () => {
    const body = buttonBody();
    expect((await postSlack(body, headersFor(body))).status).toBe(200);
    expect((await postSlack(body, headersFor(body))).status).toBe(401);
    await waitForPosts(1);
    await settle();
    expect(service.methods()).toEqual(['approve']);
  });

  it('refuses the replay on another replica: the guard lives in Redis, not in the process', async () => {
    const other = new Redis(inject('redisUrl'));
    try {
      const replica = chatApp({ replayGuard: createReplayGuard(other, prefix) });
      const body = slashBody('status web');
      expect((await postSlack(body, headersFor(body))).status).toBe(200);
      const replay = await replica.request('/slack', { method: 'POST', headers: headersFor(body), body });
      expect(replay.status).toBe(401);
      expect(((await replay.json()) as { error: string }).error).toMatch(/a replay/);
      expect(service.methods()).toEqual(['status', 'listPending']);
    } finally {
      await other.quit();
    }
  });

  it('takes a new request with the same text: only the exact signed request is refused', async () => {
    const body = slashBody('status web');
    expect((await postSlack(body, headersFor(body))).status).toBe(200);
    expect((await postSlack(body, headersFor(body, NOW_S - 1))).status).toBe(200);
    expect(service.methods()).toEqual(['status', 'listPending', 'status', 'listPending']);
  });

  it('remembers a request for as long as its timestamp stays inside the 5-minute window', async () => {
    // Stamped 299 s ahead (within the allowed skew), it could be sent again for nearly 10 minutes.
    const ahead = NOW_S + 299;
    const body = slashBody('help');
    expect((await postSlack(body, headersFor(body, ahead))).status).toBe(200);
    const ttl = await redis.ttl(`${prefix}:replay:slack:${signature(body, ahead)}`);
    expect(ttl).toBeGreaterThan(590);
    expect(ttl).toBeLessThanOrEqual(600);
    const now = slashBody('status');
    expect((await postSlack(now, headersFor(now))).status).toBe(200);
    expect(await redis.ttl(`${prefix}:replay:slack:${signature(now, NOW_S)}`)).toBeGreaterThanOrEqual(295);
  });

  it('503 when Redis cannot say whether the request was seen, and the service is never called', async () => {
    const down = createRedisConnection('redis://127.0.0.1:1', 'producer', { retryStrategy: () => null });
    try {
      const broken = chatApp({ replayGuard: createReplayGuard(down, prefix) });
      const body = slashBody('promote web prod');
      const res = await broken.request('/slack', { method: 'POST', headers: headersFor(body), body });
      expect(res.status).toBe(503);
      expect(await res.json()).toMatchObject({ code: 'unavailable', error: expect.stringMatching(/^Redis is not reachable/) });
      await settle();
      expect(service.calls).toEqual([]);
      expect(posted).toEqual([]);
    } finally {
      down.disconnect();
    }
  });
});

describe('response_url: only listed hosts, never a redirect', () => {
  it('posts nothing to a response_url whose host is not listed (by default only hooks.slack.com): the outcome comes in the answer', async () => {
    const strict = chatApp({ slack: { signingSecret: SIGNING_SECRET, responseHosts: ['hooks.slack.com'] } });
    const body = slashBody('promote web staging');
    const res = await strict.request('/slack', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': String(NOW_S), 'x-slack-signature': signature(body, NOW_S) },
      body,
    });
    const json = (await res.json()) as { response_type: string; text: string };
    expect(json.response_type).toBe('in_channel');
    expect(json.text).toContain('alice asked to promote web to staging:');
    await settle();
    expect(posted).toEqual([]);
    expect(logs).toContainEqual(
      expect.objectContaining({ level: 40, msg: 'response_url not used: the answer goes in the HTTP answer', host: responseHost, reason: `response_url host ${responseHost} is not in responseHosts` }),
    );
  });

  it('takes a hostname entry for any port of that host', async () => {
    const byName = chatApp({ slack: { signingSecret: SIGNING_SECRET, responseHosts: ['127.0.0.1'] } });
    const body = slashBody('cancel p-1');
    await byName.request('/slack', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': String(NOW_S), 'x-slack-signature': signature(body, NOW_S) },
      body,
    });
    const [outcome] = await waitForPosts(1);
    expect(outcome!.body.text).toContain('alice cancelled `p-1`');
  });

  it('does not follow a redirect from the response_url, and says so in the log', async () => {
    let redirected = 0;
    const redirecting = createServer((req, res) => {
      redirected += 1;
      req.resume();
      // 307 keeps the method and body: a follower would POST the reply to the recording server.
      res.writeHead(307, { location: `${responseBase}/stolen` }).end();
    });
    await new Promise<void>((resolve) => redirecting.listen(0, '127.0.0.1', resolve));
    const redirectHost = `127.0.0.1:${(redirecting.address() as AddressInfo).port}`;
    try {
      const both = chatApp({ slack: { signingSecret: SIGNING_SECRET, responseHosts: [responseHost, redirectHost] } });
      const body = slashBody('cancel p-1', { responseUrl: `http://${redirectHost}/commands/T0001/1/abc` });
      const res = await both.request('/slack', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': String(NOW_S), 'x-slack-signature': signature(body, NOW_S) },
        body,
      });
      expect(res.status).toBe(200);
      expect(await waitForLog(/redirect/)).toMatchObject({ level: 40, status: 307, msg: 'response_url answered a redirect, which is not followed: the chat reply was not delivered' });
      await settle();
      expect(redirected).toBe(1);
      expect(posted).toEqual([]);
    } finally {
      await new Promise<void>((resolve) => redirecting.close(() => resolve()));
    }
  });
});

// --- Mattermost ----------------------------------------------------------------------------------

function mattermostBody(text: string, options: { userId?: string; token?: string | null; responseUrl?: string } = {}): string {
  const form = new URLSearchParams(mattermostSample().body);
  form.set('text', text);
  form.set('command', '/hoist');
  if (options.responseUrl) form.set('response_url', options.responseUrl);
  if (options.userId) form.set('user_id', options.userId);
  if (options.token === null) form.delete('token');
  else if (options.token !== undefined) form.set('token', options.token);
  return form.toString();
}

function postMattermost(body: string, authorization: string | null = `Token ${MATTERMOST_TOKEN}`): Promise<Response> {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
  if (authorization !== null) headers.authorization = authorization;
  return Promise.resolve(app.request('/mattermost', { method: 'POST', headers, body }));
}

describe('POST /mattermost', () => {
  it('takes the documented request as it is sent, and answers its `/test asd` with help instead of silence', async () => {
    const sample = mattermostSample();
    expect(sample.headers.authorization).toBe(`Token ${MATTERMOST_TOKEN}`);
    const res = await Promise.resolve(
      app.request('/mattermost', {
        method: 'POST',
        headers: { authorization: sample.headers.authorization!, 'content-type': sample.headers['content-type']!, accept: sample.headers.accept! },
        body: sample.body,
      }),
    );
    expect(res.status).toBe(200);
    const json = (await res.json()) as { response_type: string; text: string };
    expect(json.response_type).toBe('ephemeral');
    expect(json.text).toMatch(/^unknown command `asd`\. Commands: `promote`/);
  });

  it('promotes as the mapped user and answers in the channel, in Markdown', async () => {
    const res = await postMattermost(mattermostBody('promote web prod'));
    const json = (await res.json()) as { response_type: string; text: string };
    expect(service.calls).toEqual([{ method: 'requestPromotion', args: [{ apps: ['web'], to: 'prod' }, { name: 'bob', via: 'mattermost' }] }]);
    expect(json.response_type).toBe('in_channel');
    expect(json.text).toContain('bob asked to promote web to prod:');
    expect(json.text).toContain('✋ **Promotion p-1** · web `v1` → **prod** · awaiting-approval');
    expect(json.text).toContain('Approve with `/hoist approve p-1`');
  });

  it('accepts the token only in the header, or only in the form', async () => {
    expect((await postMattermost(mattermostBody('approve p-1', { token: null }))).status).toBe(200);
    expect((await postMattermost(mattermostBody('approve p-1'), null)).status).toBe(200);
    expect(service.calls).toEqual([
      { method: 'approve', args: ['p-1', { name: 'bob', via: 'mattermost' }] },
      { method: 'approve', args: ['p-1', { name: 'bob', via: 'mattermost' }] },
    ]);
  });

  it.each([
    ['a wrong token in both places', () => postMattermost(mattermostBody('promote web prod', { token: 'wrong' }), 'Token wrong')],
    ['no token at all', () => postMattermost(mattermostBody('promote web prod', { token: null }), null)],
    ['a wrong header and no form token', () => postMattermost(mattermostBody('promote web prod', { token: null }), 'Token wrong')],
    ['a bearer header instead of Token', () => postMattermost(mattermostBody('promote web prod', { token: null }), `Bearer ${MATTERMOST_TOKEN}`)],
  ])('401 for %s, and the service is never called', async (_name, send) => {
    const res = await send();
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ code: 'unauthorized' });
    expect(service.calls).toEqual([]);
  });

  it('refuses an unmapped user in words, lets them read, and maps service errors', async () => {
    const refused = (await (await postMattermost(mattermostBody('rollback web prod', { userId: 'zzzz' }))).json()) as { response_type: string; text: string };
    expect(refused).toEqual({ response_type: 'ephemeral', text: expect.stringContaining('your Mattermost user id `zzzz` is not mapped in `chatops.users`') });
    const history = (await (await postMattermost(mattermostBody('history web', { userId: 'zzzz' }))).json()) as { text: string };
    expect(history.text).toContain('**History of web**');
    expect(history.text).toContain('[pipeline](https://gitlab.example.com/group/web/-/pipelines/4242)');

    service.failures.set('cancel', new HoistError('not_found', 'no promotion p-404'));
    const missing = (await (await postMattermost(mattermostBody('cancel p-404'))).json()) as { response_type: string; text: string };
    expect(missing).toEqual({ response_type: 'ephemeral', text: '🔍 not found: no promotion p-404' });
    expect(service.methods()).toEqual(['history', 'cancel']);
  });
});

describe('POST /mattermost: slow reads and the response_url', () => {
  it('acknowledges a slow read and posts the answer to a response_url whose host is listed', async () => {
    service.delays.set('status', 2_300);
    const res = await postMattermost(mattermostBody('status', { responseUrl: `${responseBase}/hooks/commands/mm1` }));
    expect(await res.json()).toEqual({ response_type: 'ephemeral', text: '⏳ looking… the answer follows.' });
    const [answer] = await waitForPosts(1);
    expect(answer!.path).toBe('/hooks/commands/mm1');
    expect(answer!.body.text).toContain('**Environments** at `9f8e7d6c`');
  });

  it('posts nothing by default (no host listed): the slow read waits and comes in the answer', async () => {
    service.delays.set('status', 2_300);
    const strict = chatApp({ mattermost: { token: MATTERMOST_TOKEN, responseHosts: [] } });
    const res = await strict.request('/mattermost', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Token ${MATTERMOST_TOKEN}` },
      body: mattermostBody('status', { responseUrl: `${responseBase}/hooks/commands/mm2` }),
    });
    const json = (await res.json()) as { response_type: string; text: string };
    expect(json.text).toContain('**Environments** at `9f8e7d6c`');
    await settle();
    expect(posted).toEqual([]);
    expect(logs).toContainEqual(expect.objectContaining({ level: 40, msg: 'response_url not used: the answer goes in the HTTP answer', host: responseHost }));
  });

  it('answers an acting command in the answer even with a listed response_url', async () => {
    const res = await postMattermost(mattermostBody('cancel p-1', { responseUrl: `${responseBase}/hooks/commands/mm3` }));
    expect(((await res.json()) as { text: string }).text).toContain('bob cancelled `p-1`');
    await settle();
    expect(posted).toEqual([]);
  });
});

describe('endpoints without config', () => {
  it('answer 404 with a JSON error saying what to configure', async () => {
    const bare = chatops({ service, users: {}, replayGuard: createReplayGuard(redis, prefix), logger: pino({ level: 'silent' }) });
    const slack = await bare.request('/slack', { method: 'POST', body: 'user_id=U1&text=help' });
    expect(slack.status).toBe(404);
    expect(await slack.json()).toEqual({ code: 'not_found', error: expect.stringContaining('chatops.slack.signingSecret') });
    const mattermost = await bare.request('/mattermost', { method: 'POST', body: 'user_id=U1&text=help' });
    expect(mattermost.status).toBe(404);
    expect(await mattermost.json()).toEqual({ code: 'not_found', error: expect.stringContaining('chatops.mattermost.token') });
  });
});
