import { setImmediate } from 'node:timers';
import { Hono } from 'hono';
import type { Logger } from 'pino';
import {
  acknowledgement,
  checkResponseUrl,
  isActing,
  parseCommand,
  parseMattermostRequest,
  parseSlackRequest,
  plain,
  resolveActor,
  runCommand,
  SLACK_APPROVE_ACTION,
  SLACK_MAX_SKEW_SECONDS,
  slackPromotionBlocks,
  verifyMattermostToken,
  verifySlackRequest,
  type ChatFlavor,
  type ChatReply,
  type CommandContext,
  type ParsedCommand,
} from '../chatops/index.js';
import { HoistError } from '../errors.js';
import type { PromotionService } from '../service/promotion-service.js';
import type { ReplayGuard } from '../store/replay-guard.js';
import { createErrorHandler } from './errors.js';
import type { HttpEnv } from './types.js';

/**
 * Slack shows an error when a slash command gets no answer within 3 s; leave room for the network. A read
 * slower than this is acknowledged and its answer posted to the response_url (Mattermost alike).
 */
export const DIRECT_ANSWER_MS = 2_000;
/** A response_url that hangs must not keep a reply (and its socket) alive for ever. */
export const RESPONSE_URL_TIMEOUT_MS = 5_000;

export interface ChatopsDeps {
  service: PromotionService;
  /** responseHosts: the hosts a response_url may name (config `chatops.<platform>.responseHosts`). */
  slack?: { signingSecret: string; responseHosts: readonly string[] } | undefined;
  mattermost?: { token: string; responseHosts: readonly string[] } | undefined;
  /** Chat user id → the name rbac and approvals use (config `chatops.users`). */
  users: Readonly<Record<string, string>>;
  /** Takes each signed Slack request once (store/replay-guard.ts), across replicas. */
  replayGuard: ReplayGuard;
  logger: Logger;
  /** Milliseconds since the epoch; the Slack replay window is measured against it. */
  now?: () => number;
  fetch?: typeof fetch;
}

type SlackMessage = { response_type: ChatReply['visibility']; text: string; blocks?: unknown[]; replace_original?: boolean };
type MattermostMessage = { response_type: ChatReply['visibility']; text: string };

function slackMessage(reply: ChatReply): SlackMessage {
  return {
    response_type: reply.visibility,
    text: reply.text,
    ...(reply.promotion?.state === 'awaiting-approval' ? { blocks: slackPromotionBlocks(reply.text, reply.promotion) } : {}),
  };
}

function mattermostMessage(reply: ChatReply): MattermostMessage {
  return { response_type: reply.visibility, text: reply.text };
}

function ephemeral(flavor: ChatFlavor, text: string): { response_type: 'ephemeral'; text: string } {
  return { response_type: 'ephemeral', text: plain(flavor, text) };
}

/** Resolves to undefined when `work` takes longer than `ms`; `work` itself carries on. */
async function within<T>(work: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * `/chatops/slack` and `/chatops/mattermost`: the same command grammar and service calls behind two
 * ways of proving who is calling. Slack must hear back within 3 s, so acting commands are acknowledged
 * at once and their outcome goes to the request's response_url; Mattermost waits longer and gets the
 * outcome in the answer (the service only stores and enqueues, which is quick). A slow read is
 * acknowledged and followed by response_url on both. A response_url is used only when its host is listed
 * in the config; otherwise everything comes in the answer. The body limit is the route group's (app.ts).
 */
export function chatops(deps: ChatopsDeps): Hono<HttpEnv> {
  const now = deps.now ?? Date.now;
  const fetchImpl = deps.fetch ?? fetch;

  /** The request's response_url when its host is allowed; a refused one is logged and treated as absent. */
  function usableResponseUrl(value: string | undefined, hosts: readonly string[], log: Logger): string | undefined {
    const verdict = checkResponseUrl(value, hosts);
    if (verdict.kind === 'allowed') return verdict.url;
    if (verdict.kind === 'refused') log.warn({ reason: verdict.reason, host: verdict.host }, 'response_url not used: the answer goes in the HTTP answer');
    return undefined;
  }

  async function postToResponseUrl(url: string, message: SlackMessage | MattermostMessage, log: Logger): Promise<void> {
    try {
      const response = await fetchImpl(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(message),
        // The allow-list holds for the URL we were given; a redirect would lead anywhere, so it is never followed.
        redirect: 'manual',
        signal: AbortSignal.timeout(RESPONSE_URL_TIMEOUT_MS),
      });
      // Slack answers a small text body; read it so the connection can be reused.
      const answer = await response.text().catch(() => '');
      if (response.status >= 300 && response.status < 400) log.warn({ status: response.status }, 'response_url answered a redirect, which is not followed: the chat reply was not delivered');
      else if (!response.ok) log.warn({ status: response.status, answer: answer.slice(0, 200) }, 'response_url refused the chat reply');
    } catch (error) {
      log.warn({ err: error }, 'could not post the chat reply to response_url');
    }
  }

  /** Work that finishes after the answer went out: started once the handler has returned, and never left to reject. */
  function afterAnswer(log: Logger, task: () => Promise<void>): void {
    setImmediate(() => {
      task().catch((error: unknown) => log.error({ err: error }, 'chat reply failed after the answer'));
    });
  }

  function context(flavor: ChatFlavor, platform: string, userId: string, commandName: string, log: Logger): CommandContext {
    const via = flavor === 'slack' ? 'slack' : 'mattermost';
    return { service: deps.service, flavor, platform, userId, actor: resolveActor(deps.users, userId, via), commandName, logger: log };
  }

  return new Hono<HttpEnv>()
    .post('/slack', async (c) => {
      const slack = deps.slack;
      if (!slack) throw new HoistError('not_found', 'Slack commands are off: set chatops.slack.signingSecret in the config');
      const log = deps.logger.child({ requestId: c.get('requestId'), chat: 'slack' });
      const rawBody = await c.req.text();
      const timestamp = c.req.header('x-slack-request-timestamp');
      const signature = c.req.header('x-slack-signature');
      const nowMs = now();
      const verdict = verifySlackRequest({ signingSecret: slack.signingSecret, timestamp, signature, rawBody, nowMs });
      if (!verdict.ok) {
        log.warn({ reason: verdict.reason }, 'Slack request refused');
        throw new HoistError('unauthorized', `not a valid Slack request: ${verdict.reason}`);
      }
      // The timestamp check alone lets a captured request be sent again for up to 5 minutes; remembering its
      // signature until its timestamp leaves the window (about 300 s) closes that.
      const untilOutOfWindow = Number(timestamp) + SLACK_MAX_SKEW_SECONDS + 1 - nowMs / 1000;
      if (!(await deps.replayGuard.firstUse(`slack:${signature as string}`, untilOutOfWindow))) {
        log.warn('Slack request refused: a replay');
        throw new HoistError('unauthorized', 'not a valid Slack request: a replay of a request already received');
      }
      const request = parseSlackRequest(rawBody);
      if (request.kind === 'invalid') throw new HoistError('bad_request', request.reason);
      if (request.kind === 'ignored') {
        log.debug({ reason: request.reason }, 'Slack request ignored');
        return c.body(null, 200);
      }

      if (request.kind === 'action') {
        // A button click gets an empty 200 at once; what it did is posted to its response_url.
        const responseUrl = usableResponseUrl(request.responseUrl, slack.responseHosts, log);
        if (request.actionId !== SLACK_APPROVE_ACTION) {
          log.info({ actionId: request.actionId }, 'Slack action ignored');
          return c.body(null, 200);
        }
        const parsed = parseCommand(`approve ${request.value ?? ''}`);
        const ctx = context('slack', 'Slack', request.userId, '/hoist', log);
        afterAnswer(log, async () => {
          const reply: ChatReply = parsed.kind === 'error' ? { visibility: 'ephemeral', text: plain('slack', parsed.message) } : await runCommand(parsed, ctx);
          if (responseUrl) await postToResponseUrl(responseUrl, { ...slackMessage(reply), replace_original: false }, log);
          else log.warn('Slack action without a response_url: the outcome cannot be shown');
        });
        return c.body(null, 200);
      }

      const parsed = parseCommand(request.text);
      if (parsed.kind === 'error') return c.json(ephemeral('slack', parsed.message));
      const ctx = context('slack', 'Slack', request.userId, request.command, log);
      const responseUrl = usableResponseUrl(request.responseUrl, slack.responseHosts, log);
      const command: ParsedCommand = parsed;
      if (isActing(command)) {
        if (ctx.actor === undefined || !responseUrl) return c.json(slackMessage(await runCommand(command, ctx)));
        afterAnswer(log, async () => postToResponseUrl(responseUrl, slackMessage(await runCommand(command, ctx)), log));
        return c.json({ response_type: 'ephemeral', text: acknowledgement('slack', command) });
      }
      // Reads usually answer in the response itself; a slow one is acknowledged and follows by response_url.
      const work = runCommand(command, ctx);
      const quick = responseUrl ? await within(work, DIRECT_ANSWER_MS) : await work;
      if (quick) return c.json(slackMessage(quick));
      afterAnswer(log, async () => postToResponseUrl(responseUrl!, slackMessage(await work), log));
      return c.json({ response_type: 'ephemeral', text: `${acknowledgement('slack', command)} the answer follows.` });
    })
    .post('/mattermost', async (c) => {
      const mattermost = deps.mattermost;
      if (!mattermost) throw new HoistError('not_found', 'Mattermost commands are off: set chatops.mattermost.token in the config');
      const log = deps.logger.child({ requestId: c.get('requestId'), chat: 'mattermost' });
      const request = parseMattermostRequest(await c.req.text());
      if (!verifyMattermostToken({ authorization: c.req.header('authorization'), formToken: request.token, expected: mattermost.token })) {
        log.warn('Mattermost request refused: token missing or wrong');
        throw new HoistError('unauthorized', 'missing or wrong Mattermost token (Authorization: Token <token> or the token field)');
      }
      if (request.kind === 'invalid') throw new HoistError('bad_request', request.reason);
      const parsed = parseCommand(request.text);
      if (parsed.kind === 'error') return c.json(ephemeral('mattermost', parsed.message));
      const command: ParsedCommand = parsed;
      const ctx = context('mattermost', 'Mattermost', request.userId, request.command, log);
      // Acting commands only store and enqueue: their outcome comes in the answer, whatever the response_url.
      if (isActing(command)) return c.json(mattermostMessage(await runCommand(command, ctx)));
      const responseUrl = usableResponseUrl(request.responseUrl, mattermost.responseHosts, log);
      if (!responseUrl) return c.json(mattermostMessage(await runCommand(command, ctx)));
      const work = runCommand(command, ctx);
      const quick = await within(work, DIRECT_ANSWER_MS);
      if (quick) return c.json(mattermostMessage(quick));
      afterAnswer(log, async () => postToResponseUrl(responseUrl, mattermostMessage(await work), log));
      return c.json({ response_type: 'ephemeral', text: `${acknowledgement('mattermost', command)} the answer follows.` });
    })
    .onError(createErrorHandler(deps.logger));
}
