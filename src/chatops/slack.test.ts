import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseSlackRequest, slackSignature, verifySlackRequest } from './slack.js';

// Slack's own worked example from "Verifying requests from Slack"
// (https://api.slack.com/authentication/verifying-requests-from-slack).
const DOC_SECRET = '8f742231b10e8888abcd99yyyzzz85a5';
const DOC_TIMESTAMP = '1531420618';
const DOC_BODY =
  'token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c';
const DOC_SIGNATURE = 'v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503';

/** Computed here from the documented recipe, not with the code under test. */
function sign(secret: string, timestamp: string, body: string): string {
  return `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
}

const SECRET = 'test-signing-secret';
const NOW_MS = 1_800_000_000_000;
const NOW_S = String(NOW_MS / 1000);
const BODY = 'user_id=U024BE7LH&command=%2Fhoist&text=promote+web+prod&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1%2F2%2F3';

describe('verifySlackRequest', () => {
  it("passes Slack's documented example at the documented time", () => {
    expect(slackSignature(DOC_SECRET, DOC_TIMESTAMP, DOC_BODY)).toBe(DOC_SIGNATURE);
    const nowMs = Number(DOC_TIMESTAMP) * 1000 + 30_000;
    expect(verifySlackRequest({ signingSecret: DOC_SECRET, timestamp: DOC_TIMESTAMP, signature: DOC_SIGNATURE, rawBody: DOC_BODY, nowMs })).toEqual({ ok: true });
  });

  it("refuses the documented example today: it is years old", () => {
    const verdict = verifySlackRequest({ signingSecret: DOC_SECRET, timestamp: DOC_TIMESTAMP, signature: DOC_SIGNATURE, rawBody: DOC_BODY, nowMs: NOW_MS });
    expect(verdict).toMatchObject({ ok: false, reason: expect.stringMatching(/more than 5 minutes/) });
  });

  it('accepts a fresh request signed with the secret, up to 5 minutes either way', () => {
    const check = (timestamp: string) => verifySlackRequest({ signingSecret: SECRET, timestamp, signature: sign(SECRET, timestamp, BODY), rawBody: BODY, nowMs: NOW_MS });
    expect(check(NOW_S)).toEqual({ ok: true });
    expect(check(String(Number(NOW_S) - 300))).toEqual({ ok: true });
    expect(check(String(Number(NOW_S) + 300))).toEqual({ ok: true });
  });

  it('refuses a replay: correctly signed, but 6 minutes old (or 6 minutes ahead)', () => {
    for (const timestamp of [String(Number(NOW_S) - 360), String(Number(NOW_S) + 360)]) {
      const verdict = verifySlackRequest({ signingSecret: SECRET, timestamp, signature: sign(SECRET, timestamp, BODY), rawBody: BODY, nowMs: NOW_MS });
      expect(verdict).toMatchObject({ ok: false, reason: expect.stringMatching(/replay/) });
    }
  });

  it('refuses a tampered body', () => {
    const tampered = BODY.replace('promote+web+prod', 'rollback+web+prod');
    const verdict = verifySlackRequest({ signingSecret: SECRET, timestamp: NOW_S, signature: sign(SECRET, NOW_S, BODY), rawBody: tampered, nowMs: NOW_MS });
    expect(verdict).toMatchObject({ ok: false, reason: expect.stringMatching(/does not match/) });
  });

  it('refuses a signature made with another secret, or over another timestamp', () => {
    expect(verifySlackRequest({ signingSecret: SECRET, timestamp: NOW_S, signature: sign('wrong-secret', NOW_S, BODY), rawBody: BODY, nowMs: NOW_MS }).ok).toBe(false);
    const earlier = String(Number(NOW_S) - 1);
    expect(verifySlackRequest({ signingSecret: SECRET, timestamp: NOW_S, signature: sign(SECRET, earlier, BODY), rawBody: BODY, nowMs: NOW_MS }).ok).toBe(false);
  });

  it('refuses missing headers and malformed values without throwing', () => {
    const base = { signingSecret: SECRET, rawBody: BODY, nowMs: NOW_MS };
    expect(verifySlackRequest({ ...base, timestamp: undefined, signature: sign(SECRET, NOW_S, BODY) })).toMatchObject({ ok: false, reason: expect.stringMatching(/missing/) });
    expect(verifySlackRequest({ ...base, timestamp: NOW_S, signature: undefined })).toMatchObject({ ok: false, reason: expect.stringMatching(/missing/) });
    expect(verifySlackRequest({ ...base, timestamp: '1e9', signature: sign(SECRET, '1e9', BODY) }).ok).toBe(false);
    expect(verifySlackRequest({ ...base, timestamp: NOW_S, signature: 'v0=abc' }).ok).toBe(false);
    expect(verifySlackRequest({ ...base, timestamp: NOW_S, signature: sign(SECRET, NOW_S, BODY).toUpperCase() }).ok).toBe(false);
  });
});

describe('parseSlackRequest', () => {
  it("reads the slash command fields of Slack's documented body", () => {
    expect(parseSlackRequest(DOC_BODY)).toEqual({
      kind: 'command',
      userId: 'U2CERLKJA',
      text: '',
      command: '/webhook-collect',
      responseUrl: 'https://hooks.slack.com/commands/T1DC2JH3J/397700885554/96rGlfmibIGlgcZRskXaIFfN',
    });
  });

  it('decodes + and percent escapes in the text', () => {
    expect(parseSlackRequest(BODY)).toMatchObject({ kind: 'command', userId: 'U024BE7LH', text: 'promote web prod', command: '/hoist' });
  });

  it('reads a block_actions button click from the payload field', () => {
    const payload = {
      type: 'block_actions',
      user: { id: 'U024BE7LH', username: 'alice', team_id: 'T1' },
      api_app_id: 'A1',
      trigger_id: '1.2.3',
      response_url: 'https://hooks.slack.com/actions/T1/2/3',
      actions: [{ type: 'button', action_id: 'hoist_approve', block_id: 'b', value: 'p-1', action_ts: '1' }],
    };
    expect(parseSlackRequest(new URLSearchParams({ payload: JSON.stringify(payload) }).toString())).toEqual({
      kind: 'action',
      userId: 'U024BE7LH',
      actionId: 'hoist_approve',
      value: 'p-1',
      responseUrl: 'https://hooks.slack.com/actions/T1/2/3',
    });
  });

  it('ignores other interactions and ssl checks; calls the rest invalid', () => {
    expect(parseSlackRequest(new URLSearchParams({ payload: JSON.stringify({ type: 'view_submission' }) }).toString())).toMatchObject({ kind: 'ignored' });
    expect(parseSlackRequest('ssl_check=1&token=x')).toMatchObject({ kind: 'ignored' });
    expect(parseSlackRequest('payload=%7Bnot-json')).toMatchObject({ kind: 'invalid' });
    expect(parseSlackRequest(new URLSearchParams({ payload: JSON.stringify({ type: 'block_actions', actions: [] }) }).toString())).toMatchObject({ kind: 'invalid' });
    expect(parseSlackRequest('text=hello')).toMatchObject({ kind: 'invalid' });
  });

  it('calls a request with an over-long field invalid, naming the field and the limit', () => {
    expect(parseSlackRequest(`user_id=${'U'.repeat(101)}&text=status`)).toEqual({ kind: 'invalid', reason: 'user_id: at most 100 characters' });
    expect(parseSlackRequest(`user_id=U1&command=/${'h'.repeat(100)}`)).toEqual({ kind: 'invalid', reason: 'command: at most 100 characters' });
    const click = (value: string) =>
      new URLSearchParams({ payload: JSON.stringify({ type: 'block_actions', user: { id: 'U1' }, actions: [{ action_id: 'hoist_approve', value }] }) }).toString();
    expect(parseSlackRequest(click('p'.repeat(2_001)))).toEqual({ kind: 'invalid', reason: 'value: at most 2000 characters' });
  });

  it('drops a response_url that is not http(s)', () => {
    expect(parseSlackRequest('user_id=U1&text=status&response_url=file%3A%2F%2F%2Fetc%2Fpasswd')).toMatchObject({ responseUrl: undefined });
  });
});
