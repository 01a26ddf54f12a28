/**
 * Mattermost slash command checks and parsing. Pure.
 *
 * Mattermost sends the command's token twice: as `Authorization: Token <token>` and as the `token`
 * form field (Mattermost docs, "Slash commands" → custom slash command request example, in
 * test/fixtures/chat/). Proxies sometimes strip Authorization and some versions leave the field
 * out, so either one matching is enough; both are compared in constant time.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { overLongField } from './request-fields.js';

/** Hashing first makes both sides 32 bytes, so the comparison takes the same time whatever was sent. */
function sameSecret(given: string | null | undefined, expected: string): boolean {
  if (given === null || given === undefined || given === '') return false;
  return timingSafeEqual(createHash('sha256').update(given).digest(), createHash('sha256').update(expected).digest());
}

export function mattermostHeaderToken(authorization: string | undefined): string | undefined {
  return /^Token\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
}

export function verifyMattermostToken(input: { authorization: string | undefined; formToken: string | null; expected: string }): boolean {
  // Both comparisons always run, so which one matched does not show in the timing either.
  const byHeader = sameSecret(mattermostHeaderToken(input.authorization), input.expected);
  const byForm = sameSecret(input.formToken, input.expected);
  return byHeader || byForm;
}

export type MattermostRequest =
  /** responseUrl as sent: whether it may be used is for checkResponseUrl to say. */
  | { kind: 'command'; userId: string; text: string; command: string; token: string | null; responseUrl: string | undefined }
  | { kind: 'invalid'; reason: string; token: string | null };

export function parseMattermostRequest(rawBody: string): MattermostRequest {
  const form = new URLSearchParams(rawBody);
  const token = form.get('token');
  const userId = form.get('user_id');
  if (!userId) return { kind: 'invalid', reason: 'not a Mattermost slash command: user_id is missing', token };
  const command = form.get('command') || '/hoist';
  const responseUrl = form.get('response_url') || undefined;
  const tooLong = overLongField({ user_id: userId, command, response_url: responseUrl });
  if (tooLong) return { kind: 'invalid', reason: tooLong, token };
  return { kind: 'command', userId, text: form.get('text') ?? '', command, token, responseUrl };
}
