import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Standard Webhooks symmetric signatures, as the specification defines them
 * (github.com/standard-webhooks/standard-webhooks, spec/standard-webhooks.md, "Signature scheme",
 * "Webhook headers", "Verifying signatures"): the key is the Base64 after `whsec_`; the signed content
 * is `{webhook-id}.{webhook-timestamp}.{body}`; the signature is Base64 HMAC-SHA256, sent as `v1,<sig>`;
 * `webhook-signature` may hold several space-separated entries (secret rotation) and any one match
 * is enough; `webhook-timestamp` is Unix seconds and must be near now, against replays.
 */

const SECRET_PREFIX = 'whsec_';
const DEFAULT_TOLERANCE_SECONDS = 300;

export interface StandardWebhookInput {
  /** `whsec_<base64>` (a bare Base64 key is accepted too, as the reference libraries do). */
  secret: string;
  /** The `webhook-id`, `webhook-timestamp` and `webhook-signature` header values. */
  id: string | undefined;
  timestamp: string | undefined;
  signature: string | undefined;
  /** The raw body as received: re-serialised JSON would not match. */
  body: string;
  now: Date;
  toleranceSeconds?: number;
}

export type StandardWebhookResult = { ok: true } | { ok: false; reason: string };

function signingKey(secret: string): Buffer {
  return Buffer.from(secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret, 'base64');
}

function hmac(key: Buffer, id: string, timestamp: string, body: string): string {
  return createHmac('sha256', key).update(`${id}.${timestamp}.${body}`, 'utf8').digest('base64');
}

/** The `webhook-signature` value (`v1,<base64>`) for a delivery; `timestamp` in Unix seconds. */
export function signStandardWebhook(secret: string, id: string, timestamp: number | string, body: string): string {
  return `v1,${hmac(signingKey(secret), id, String(timestamp), body)}`;
}

export function verifyStandardWebhook(input: StandardWebhookInput): StandardWebhookResult {
  const missing = (
    [
      ['webhook-id', input.id],
      ['webhook-timestamp', input.timestamp],
      ['webhook-signature', input.signature],
    ] as const
  )
    .filter(([, value]) => value === undefined || value.trim() === '')
    .map(([name]) => name);
  if (missing.length > 0) return { ok: false, reason: `missing ${missing.join(', ')} header${missing.length > 1 ? 's' : ''}` };
  const id = input.id as string;
  const timestamp = (input.timestamp as string).trim();

  const key = signingKey(input.secret);
  if (key.length === 0) return { ok: false, reason: 'the webhook signing secret is empty (expected whsec_<base64>)' };

  if (!/^\d{1,15}$/.test(timestamp)) return { ok: false, reason: `webhook-timestamp "${timestamp.slice(0, 40)}" is not a Unix time in seconds` };
  const tolerance = input.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  const skew = Math.floor(input.now.getTime() / 1000) - Number(timestamp);
  if (skew > tolerance) return { ok: false, reason: `webhook-timestamp is ${skew}s old, more than the ${tolerance}s allowed (a replay, or clocks apart)` };
  if (-skew > tolerance) return { ok: false, reason: `webhook-timestamp is ${-skew}s in the future, more than the ${tolerance}s allowed (clocks apart)` };

  const expected = Buffer.from(hmac(key, id, timestamp, input.body), 'utf8');
  const candidates = (input.signature as string).split(' ').filter((entry) => entry.startsWith('v1,'));
  if (candidates.length === 0) return { ok: false, reason: 'webhook-signature holds no v1 signature' };
  // Constant-time per candidate; a length mismatch says nothing about the key.
  const matches = candidates.some((entry) => {
    const given = Buffer.from(entry.slice(3), 'utf8');
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
  return matches ? { ok: true } : { ok: false, reason: 'no webhook-signature entry matches the body signed with the configured secret' };
}
