import { describe, expect, it } from 'vitest';
import { mattermostHeaderToken, parseMattermostRequest, verifyMattermostToken } from './mattermost.js';

// Field values from Mattermost's documented request (test/fixtures/chat/mattermost-slash-command-request.http).
const TOKEN = 'okwexkjpe7ygb8eq1ww58t483w';
const BODY =
  'channel_id=jux16pkewjrkfj3ehep1psxyxc&channel_name=town-square&command=%2Ftest&response_url=http%3A%2F%2Flocalhost%3A8065%2Fhooks%2Fcommands%2Fxbrkb8p393gjpq5cawei7npije' +
  '&team_domain=test&team_id=carya1qs77bemjup96ff538snh&text=asd&token=okwexkjpe7ygb8eq1ww58t483w&user_id=aoa1agao6t8fmx3ikt1j9w5ybw&user_name=somename';

describe('verifyMattermostToken', () => {
  it('accepts the token in the header, in the form, or both', () => {
    expect(verifyMattermostToken({ authorization: `Token ${TOKEN}`, formToken: null, expected: TOKEN })).toBe(true);
    expect(verifyMattermostToken({ authorization: undefined, formToken: TOKEN, expected: TOKEN })).toBe(true);
    expect(verifyMattermostToken({ authorization: `Token ${TOKEN}`, formToken: TOKEN, expected: TOKEN })).toBe(true);
  });
  it('accepts when either matches even if the other is stale', () => {
    expect(verifyMattermostToken({ authorization: 'Token old', formToken: TOKEN, expected: TOKEN })).toBe(true);
    expect(verifyMattermostToken({ authorization: `Token ${TOKEN}`, formToken: 'old', expected: TOKEN })).toBe(true);
  });
  it('refuses wrong, missing, empty and differently-schemed tokens', () => {
    expect(verifyMattermostToken({ authorization: 'Token nope', formToken: 'nope', expected: TOKEN })).toBe(false);
    expect(verifyMattermostToken({ authorization: undefined, formToken: null, expected: TOKEN })).toBe(false);
    expect(verifyMattermostToken({ authorization: 'Token ', formToken: '', expected: TOKEN })).toBe(false);
    expect(verifyMattermostToken({ authorization: `Bearer ${TOKEN}`, formToken: null, expected: TOKEN })).toBe(false);
    expect(verifyMattermostToken({ authorization: `Token ${TOKEN}x`, formToken: TOKEN.slice(1), expected: TOKEN })).toBe(false);
  });
  it('reads the header scheme case-insensitively', () => {
    expect(mattermostHeaderToken(`token ${TOKEN}`)).toBe(TOKEN);
    expect(mattermostHeaderToken(`Token  ${TOKEN} `)).toBe(TOKEN);
    expect(mattermostHeaderToken(undefined)).toBeUndefined();
  });
});

describe('parseMattermostRequest', () => {
  it('reads the documented fields', () => {
    expect(parseMattermostRequest(BODY)).toEqual({
      kind: 'command',
      userId: 'aoa1agao6t8fmx3ikt1j9w5ybw',
      text: 'asd',
      command: '/test',
      token: TOKEN,
      responseUrl: 'http://localhost:8065/hooks/commands/xbrkb8p393gjpq5cawei7npije',
    });
  });
  it('calls a request with an over-long field invalid, naming the field and the limit, and still keeps the token', () => {
    const form = new URLSearchParams(BODY);
    form.set('user_id', 'u'.repeat(101));
    expect(parseMattermostRequest(form.toString())).toEqual({ kind: 'invalid', reason: 'user_id: at most 100 characters', token: TOKEN });
    form.set('user_id', 'u1');
    form.set('response_url', `http://localhost:8065/${'x'.repeat(2_048)}`);
    expect(parseMattermostRequest(form.toString())).toMatchObject({ kind: 'invalid', reason: 'response_url: at most 2048 characters' });
  });
  it('keeps the token even when the body is not a command, so the token check still runs first', () => {
    expect(parseMattermostRequest(`token=${TOKEN}`)).toEqual({ kind: 'invalid', reason: expect.stringMatching(/user_id/), token: TOKEN });
  });
});
