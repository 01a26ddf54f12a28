import { describe, expect, it } from 'vitest';
import { signStandardWebhook, verifyStandardWebhook } from './signing.js';

// The test vector of the Standard Webhooks reference library (libraries/javascript/src/webhook.test.ts, "sign function works").
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const ID = 'msg_p5jXN8AQM9LWM0D4loKWxJek';
const TIMESTAMP = '1614265330';
const BODY = '{"test": 2432232314}';
const SIGNATURE = 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=';
const AT = new Date(Number(TIMESTAMP) * 1000);

const OTHER_SECRET = `whsec_${Buffer.from('another-endpoint-secret-of-32-bytes').toString('base64')}`;

const verify = (over: Partial<Parameters<typeof verifyStandardWebhook>[0]> = {}) =>
  verifyStandardWebhook({ secret: SECRET, id: ID, timestamp: TIMESTAMP, signature: SIGNATURE, body: BODY, now: AT, ...over });

describe('Standard Webhooks signatures', () => {
  it("signs exactly as the specification's reference library does", () => {
    expect(signStandardWebhook(SECRET, ID, Number(TIMESTAMP), BODY)).toBe(SIGNATURE);
    expect(signStandardWebhook(SECRET, ID, TIMESTAMP, BODY)).toBe(SIGNATURE);
  });

  it('accepts a delivery signed with the secret', () => {
    expect(verify()).toEqual({ ok: true });
  });

  it('rejects a delivery signed with another secret', () => {
    const result = verify({ signature: signStandardWebhook(OTHER_SECRET, ID, TIMESTAMP, BODY) });
    expect(result).toEqual({ ok: false, reason: expect.stringContaining('no webhook-signature entry matches') });
  });

  it('accepts a header listing several signatures when any one of them matches (secret rotation)', () => {
    const old = signStandardWebhook(OTHER_SECRET, ID, TIMESTAMP, BODY);
    expect(verify({ signature: `${old} v1a,aGVsbG8= ${SIGNATURE}` })).toEqual({ ok: true });
    expect(verify({ signature: `${old} v1a,aGVsbG8=` }).ok).toBe(false);
  });

  it('ignores signatures of other schemes and says so when no v1 entry is there', () => {
    expect(verify({ signature: `v2,${SIGNATURE.slice(3)}` })).toEqual({ ok: false, reason: 'webhook-signature holds no v1 signature' });
  });

  it('rejects a tampered body, id or timestamp', () => {
    expect(verify({ body: '{"test": 2432232315}' }).ok).toBe(false);
    expect(verify({ id: 'msg_other' }).ok).toBe(false);
    const later = String(Number(TIMESTAMP) + 1);
    expect(verify({ timestamp: later }).ok).toBe(false);
  });

  it('rejects a stale delivery and one from the future, saying how far off it is', () => {
    const stale = verify({ now: new Date(AT.getTime() + 301_000) });
    expect(stale).toEqual({ ok: false, reason: expect.stringContaining('301s old') });
    const future = verify({ now: new Date(AT.getTime() - 400_000) });
    expect(future).toEqual({ ok: false, reason: expect.stringContaining('400s in the future') });
    expect(verify({ now: new Date(AT.getTime() + 299_000) })).toEqual({ ok: true });
    expect(verify({ now: new Date(AT.getTime() + 20_000), toleranceSeconds: 10 }).ok).toBe(false);
  });

  it('names the missing headers', () => {
    expect(verify({ id: undefined })).toEqual({ ok: false, reason: 'missing webhook-id header' });
    expect(verify({ timestamp: undefined, signature: '' })).toEqual({ ok: false, reason: 'missing webhook-timestamp, webhook-signature headers' });
  });

  it('rejects a timestamp that is not Unix seconds', () => {
    expect(verify({ timestamp: '2021-02-25T15:02:10Z' })).toEqual({ ok: false, reason: expect.stringContaining('is not a Unix time in seconds') });
    expect(verify({ timestamp: String(AT.getTime()) }).ok).toBe(false);
  });

  it('rejects everything when the configured secret is empty', () => {
    expect(verify({ secret: 'whsec_' })).toEqual({ ok: false, reason: expect.stringContaining('secret is empty') });
  });
});
