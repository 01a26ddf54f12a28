import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { HoistError } from '../errors.js';
import { redactSecrets } from './redact-secrets.js';

const KEY = randomBytes(32);
const HASH = /<redacted hmac-sha256:[0-9a-f]{16}>/;

const CONFIG_MAP = `apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  password: not-a-secret   # a ConfigMap is not redacted
  motd: |
    hello
`;

const secret = (data: string, stringData = '') => `apiVersion: v1
kind: Secret
metadata:
  name: db
type: Opaque
data:
${data}${stringData ? `stringData:\n${stringData}` : ''}`;

describe('redactSecrets', () => {
  it('replaces every data and stringData value of a Secret by a keyed hash; keys and the rest stay', async () => {
    const text = secret('  username: YWRtaW4=\n  password: aHVudGVyMg==\n', '  token: s3cr3t-t0ken\n  cert: |\n    -----BEGIN CERT-----\n    abc\n');
    const out = await redactSecrets(text, KEY);
    for (const value of ['YWRtaW4=', 'aHVudGVyMg==', 's3cr3t-t0ken', 'BEGIN CERT', 'abc']) expect(out).not.toContain(value);
    expect(out).toMatch(/^ {2}username: <redacted hmac-sha256:[0-9a-f]{16}>$/m);
    expect(out).toMatch(/^ {2}password: <redacted hmac-sha256:[0-9a-f]{16}>$/m);
    expect(out).toMatch(/^ {2}token: <redacted hmac-sha256:[0-9a-f]{16}>$/m);
    expect(out).toMatch(/^ {2}cert: <redacted hmac-sha256:[0-9a-f]{16}>\n$/m);
    expect(out.startsWith('apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ntype: Opaque\ndata:\n')).toBe(true);
  });

  it('hashes the same value the same and a different one differently, under one key', async () => {
    const before = await redactSecrets(secret('  a: b2xk\n  b: c2FtZQ==\n'), KEY);
    const after = await redactSecrets(secret('  a: bmV3\n  b: c2FtZQ==\n'), KEY);
    const hashes = (text: string) => Object.fromEntries([...text.matchAll(/^ {2}(\w+): (<redacted [^>]+>)$/gm)].map((m) => [m[1], m[2]]));
    expect(hashes(before).a).not.toBe(hashes(after).a);
    expect(hashes(before).b).toBe(hashes(after).b);
    // Another key (another process) gives other hashes: nothing to look a guessed value up against.
    expect(hashes(await redactSecrets(secret('  b: c2FtZQ==\n'), randomBytes(32))).b).not.toBe(hashes(before).b);
  });

  it('leaves every other document byte for byte, and redacts a Secret between them', async () => {
    const text = `# leading comment\n${CONFIG_MAP}---\n${secret('  k: dmFsdWU=\n')}---\n${CONFIG_MAP}`;
    const out = await redactSecrets(text, KEY);
    const [first, second, third] = out.split('---\n');
    expect(first).toBe(`# leading comment\n${CONFIG_MAP}`);
    expect(third).toBe(CONFIG_MAP);
    expect(second).toMatch(/^ {2}k: <redacted hmac-sha256:[0-9a-f]{16}>$/m);
    expect(out).not.toContain('dmFsdWU=');
  });

  it('finds Secrets written in flow style, with a quoted kind, inside a List, and under a repeated key', async () => {
    const text = [
      '{apiVersion: v1, kind: Secret, metadata: {name: a}, data: {k: Zmxvdw==}}\n',
      'apiVersion: v1\n"kind": "Secret"\nmetadata: {name: b}\nstringData: {k: "quoted value"}\n',
      'apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Secret\n  metadata: {name: c}\n  data:\n    k: aW4tYS1saXN0\n',
      'apiVersion: v1\nkind: Secret\nmetadata: {name: d}\ndata:\n  k: Zmlyc3Q=\ndata:\n  k: c2Vjb25k\n',
    ].join('---\n');
    const out = await redactSecrets(text, KEY);
    for (const value of ['Zmxvdw==', 'quoted value', 'aW4tYS1saXN0', 'Zmlyc3Q=', 'c2Vjb25k']) expect(out).not.toContain(value);
    expect(out.match(new RegExp(HASH, 'g'))).toHaveLength(5);
  });

  it('hides an aliased data map whole, and an empty value stays empty', async () => {
    const out = await redactSecrets('apiVersion: v1\nkind: Secret\nmetadata: {name: a, labels: &d {k: c2VjcmV0}}\ndata: *d\nstringData:\n  empty:\n', KEY);
    expect(out).toMatch(/^data: <redacted hmac-sha256:[0-9a-f]{16}>$/m);
    expect(out).toContain('  empty:\n');
  });

  it('refuses output it cannot parse rather than show it unredacted', async () => {
    const error = await redactSecrets('apiVersion: v1\nkind: Secret\ndata: {k: [unclosed\n', KEY).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(HoistError);
    expect((error as HoistError).message).toMatch(/^cannot redact Secrets in the rendered output: it is not valid YAML: /);
  });
});
