/**
 * Slack request checks and payload parsing. Pure: strings and a clock value in, results out.
 *
 * Slack signs every request: "Verifying requests from Slack",
 * https://api.slack.com/authentication/verifying-requests-from-slack. The signature is
 * `v0=` + hex(HMAC-SHA256(signing secret, `v0:{X-Slack-Request-Timestamp}:{raw body}`)), over the body
 * exactly as it arrived (parsing and re-encoding the form would change the bytes), compared in constant
 * time; a timestamp more than five minutes from the local clock is refused so a captured request
 * cannot be replayed later.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { overLongField } from './request-fields.js';

/** Slack's documented tolerance. Both directions: a timestamp from the future is as suspect as an old one. */
export const SLACK_MAX_SKEW_SECONDS = 5 * 60;

export type SlackVerification = { ok: true } | { ok: false; reason: string };

export function slackSignature(signingSecret: string, timestamp: string, rawBody: string): string {
  return `v0=${createHmac('sha256', signingSecret).update(`v0:${timestamp}:${rawBody}`, 'utf8').digest('hex')}`;
}

export function verifySlackRequest(input: {
  signingSecret: string;
  timestamp: string | undefined;
  signature: string | undefined;
  rawBody: string;
  nowMs: number;
}): SlackVerification {
  const { timestamp, signature } = input;
  if (timestamp === undefined || signature === undefined) return { ok: false, reason: 'missing X-Slack-Request-Timestamp or X-Slack-Signature' };
  if (!/^\d{1,12}$/.test(timestamp)) return { ok: false, reason: 'X-Slack-Request-Timestamp is not a Unix time in seconds' };
  const skew = Math.abs(input.nowMs / 1000 - Number(timestamp));
  if (skew > SLACK_MAX_SKEW_SECONDS) return { ok: false, reason: 'X-Slack-Request-Timestamp is more than 5 minutes from now (a replay?)' };
  const expected = Buffer.from(slackSignature(input.signingSecret, timestamp, input.rawBody), 'utf8');
  const given = Buffer.from(signature, 'utf8');
  // Every well-formed signature has the same length, so checking it first tells an attacker nothing.
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'X-Slack-Signature does not match the body' };
  return { ok: true };
}

/**
 * What reaches the endpoint once the signature holds. Slash commands are flat form fields
 * (`user_id`, `text`, `command`, `response_url`, `trigger_id`, `api_app_id`, …); interactions such as a
 * button click are one form field `payload` holding JSON (`type: block_actions`, `user.id`,
 * `actions[]`, `response_url`): https://api.slack.com/reference/interaction-payloads/block-actions
 */
export type SlackRequest =
  | { kind: 'command'; userId: string; text: string; command: string; responseUrl: string | undefined }
  | { kind: 'action'; userId: string; actionId: string; value: string | undefined; responseUrl: string | undefined }
  | { kind: 'ignored'; reason: string }
  | { kind: 'invalid'; reason: string };

const blockActionsSchema = z.object({
  type: z.literal('block_actions'),
  user: z.object({ id: z.string().min(1) }),
  actions: z.array(z.object({ action_id: z.string(), value: z.string().optional() })).min(1),
  response_url: z.string().optional(),
});

/** Only http(s) URLs are posted to; anything else in a signed payload is dropped rather than fetched. */
function httpUrl(value: string | null | undefined): string | undefined {
  if (!value) return undefined;
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.toString() : undefined;
  } catch {
    return undefined;
  }
}

export function parseSlackRequest(rawBody: string): SlackRequest {
  const form = new URLSearchParams(rawBody);
  const payload = form.get('payload');
  if (payload !== null) {
    let json: unknown;
    try {
      json = JSON.parse(payload);
    } catch {
      return { kind: 'invalid', reason: 'the payload field is not JSON' };
    }
    const type = typeof json === 'object' && json !== null && 'type' in json ? String((json as { type: unknown }).type) : '(none)';
    if (type !== 'block_actions') return { kind: 'ignored', reason: `interaction type ${type} is not handled` };
    const parsed = blockActionsSchema.safeParse(json);
    if (!parsed.success) return { kind: 'invalid', reason: `not a usable block_actions payload: ${parsed.error.issues[0]?.message ?? 'invalid'}` };
    const action = parsed.data.actions[0]!;
    const tooLong = overLongField({ user_id: parsed.data.user.id, action_id: action.action_id, value: action.value, response_url: parsed.data.response_url });
    if (tooLong) return { kind: 'invalid', reason: tooLong };
    return { kind: 'action', userId: parsed.data.user.id, actionId: action.action_id, value: action.value, responseUrl: httpUrl(parsed.data.response_url) };
  }
  // Slack checks the certificate of slash command URLs now and then with an `ssl_check=1` POST: nothing to do.
  if (form.get('ssl_check') === '1') return { kind: 'ignored', reason: 'ssl_check' };
  const userId = form.get('user_id');
  if (!userId) return { kind: 'invalid', reason: 'neither a slash command (user_id) nor an interaction (payload)' };
  const command = form.get('command') || '/hoist';
  const responseUrl = form.get('response_url');
  const tooLong = overLongField({ user_id: userId, command, response_url: responseUrl });
  if (tooLong) return { kind: 'invalid', reason: tooLong };
  return { kind: 'command', userId, text: form.get('text') ?? '', command, responseUrl: httpUrl(responseUrl) };
}
