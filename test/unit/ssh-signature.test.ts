import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commitPayload, objectId, parseCommit, withSignature } from '../../src/gitops/git-objects.js';
import { generateSigningKey, parsePublicKey, parseSigningKey, signSsh, verifySsh } from '../../src/gitops/ssh-signature.js';

const run = promisify(execFile);
const env = { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' };

/** Runs a command with `input` on stdin (execFile's promise form has no input option). */
function withInput(cmd: string, args: string[], input: Buffer | string, cwd?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { cwd, env }, (error, stdout, stderr) => resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }));
    child.stdin?.end(input);
  });
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hoist-sshsig-'));
  // Real keys from the real ssh-keygen: one Hoist signs with, one somebody else has.
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'hoist@example.invalid', '-f', join(dir, 'hoist')]);
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'mallory', '-f', join(dir, 'other')]);
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'secret phrase', '-f', join(dir, 'locked')]);
  const hoistPub = (await readFile(join(dir, 'hoist.pub'), 'utf8')).trim();
  await writeFile(join(dir, 'allowed_signers'), `hoist@example.invalid namespaces="git" ${hoistPub}\n`);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const key = async (name: string) => parseSigningKey(await readFile(join(dir, name), 'utf8'));

describe('keys', () => {
  it('reads the private key ssh-keygen writes, with the public key ssh-keygen prints', async () => {
    const hoist = await key('hoist');
    expect(hoist.publicKey.text).toBe((await readFile(join(dir, 'hoist.pub'), 'utf8')).trim());
    const { stdout } = await run('ssh-keygen', ['-lf', join(dir, 'hoist.pub')]);
    expect(stdout).toContain(hoist.publicKey.fingerprint);
    expect(parsePublicKey(hoist.publicKey.text).blob.equals(hoist.publicKey.blob)).toBe(true);
  });

  it('refuses a passphrase-protected key, an RSA key and garbage with the reason', async () => {
    await expect(key('locked')).rejects.toThrow(/passphrase/);
    await run('ssh-keygen', ['-q', '-t', 'rsa', '-b', '2048', '-N', '', '-f', join(dir, 'rsa')]);
    await expect(key('rsa')).rejects.toThrow(/ed25519/);
    expect(() => parseSigningKey('hello')).toThrow(/not a private key/);
    expect(() => parsePublicKey('ssh-rsa AAAAB3NzaC1yc2E')).toThrow(/ssh-ed25519/);
  });
});

describe('signatures, checked against the real ssh-keygen', () => {
  it('ssh-keygen -Y verify accepts what Hoist signs', async () => {
    const hoist = await key('hoist');
    const message = Buffer.from('tree 0123\n\npromote web to dev: v1\n');
    await writeFile(join(dir, 'message.sig'), signSsh(message, hoist));
    const result = await withInput('ssh-keygen', ['-Y', 'verify', '-f', join(dir, 'allowed_signers'), '-I', 'hoist@example.invalid', '-n', 'git', '-s', join(dir, 'message.sig')], message);
    expect(result.stdout + result.stderr).toMatch(/Good "git" signature for hoist@example.invalid/);
    expect(result.code).toBe(0);
  });

  it('verifies what ssh-keygen signs, and refuses another key, another namespace and changed bytes', async () => {
    const hoist = await key('hoist');
    const other = await key('other');
    const message = Buffer.from('payload\n');
    await writeFile(join(dir, 'm'), message);
    await run('ssh-keygen', ['-Y', 'sign', '-n', 'git', '-f', join(dir, 'hoist'), join(dir, 'm')]);
    const byHoist = await readFile(join(dir, 'm.sig'), 'utf8');
    expect(verifySsh(message, byHoist, [other.publicKey, hoist.publicKey])?.fingerprint).toBe(hoist.publicKey.fingerprint);
    expect(verifySsh(Buffer.from('payload!\n'), byHoist, [hoist.publicKey])).toBeUndefined();
    expect(verifySsh(message, byHoist, [other.publicKey])).toBeUndefined();
    await rm(join(dir, 'm.sig'));
    await run('ssh-keygen', ['-Y', 'sign', '-n', 'file', '-f', join(dir, 'hoist'), join(dir, 'm')]);
    expect(verifySsh(message, await readFile(join(dir, 'm.sig'), 'utf8'), [hoist.publicKey])).toBeUndefined();
    await rm(join(dir, 'm.sig'));
    await run('ssh-keygen', ['-Y', 'sign', '-n', 'git', '-f', join(dir, 'other'), join(dir, 'm')]);
    expect(verifySsh(message, await readFile(join(dir, 'm.sig'), 'utf8'), [hoist.publicKey])).toBeUndefined();
    expect(verifySsh(message, 'not a signature', [hoist.publicKey])).toBeUndefined();
  });

  it('a key Hoist made itself signs the same way', async () => {
    const { privateKeyPem, key: made } = generateSigningKey();
    expect(parseSigningKey(privateKeyPem).publicKey.text).toBe(made.publicKey.text);
    const message = Buffer.from('x');
    expect(verifySsh(message, signSsh(message, made), [made.publicKey])).toBe(made.publicKey);
  });
});

describe('signed commit objects, checked by git itself', () => {
  it('git verify-commit says Good for a commit Hoist built and signed, and fsck finds nothing wrong', async () => {
    const hoist = await key('hoist');
    const repo = join(dir, 'repo');
    await run('git', ['init', '-q', '--bare', repo], { env });
    const tree = (await withInput('git', ['hash-object', '-t', 'tree', '-w', '--stdin'], Buffer.alloc(0), repo)).stdout.trim();
    const who = { name: 'Hoist', email: 'hoist@example.invalid', time: 1_790_000_000, zone: '+0000' };
    const payload = commitPayload({ tree, parents: [], author: who, committer: who, message: 'promote web to dev: v1\n\nHoist-App: web\n' });
    const signed = withSignature(payload, signSsh(payload, hoist), 'sha1');
    const id = (await withInput('git', ['hash-object', '-t', 'commit', '-w', '--stdin'], signed, repo)).stdout.trim();
    expect(id).toBe(objectId('commit', signed, 'sha1'));
    const verified = await withInput('git', ['-c', `gpg.ssh.allowedSignersFile=${join(dir, 'allowed_signers')}`, 'verify-commit', '-v', id], '', repo);
    expect(verified.stderr).toMatch(/Good "git" signature for hoist@example.invalid/);
    expect(verified.code).toBe(0);
    expect((await withInput('git', ['fsck', '--strict'], '', repo)).code).toBe(0);
  });

  it('reads the signature out of a commit git signed with ssh-keygen, payload byte for byte', async () => {
    const hoist = await key('hoist');
    const work = join(dir, 'work');
    await run('git', ['init', '-q', work], { env });
    await run(
      'git',
      ['-c', 'user.name=H', '-c', 'user.email=h@example.invalid', '-c', 'gpg.format=ssh', '-c', `user.signingkey=${join(dir, 'hoist')}`, 'commit', '-q', '-S', '--allow-empty', '-m', 'signed by git'],
      { cwd: work, env },
    );
    const raw = Buffer.from((await run('git', ['cat-file', 'commit', 'HEAD'], { cwd: work, env, encoding: 'buffer' })).stdout);
    const parsed = parseCommit(raw);
    expect(parsed.signature).toMatch(/^-----BEGIN SSH SIGNATURE-----\n/);
    expect(parsed.message).toBe('signed by git\n');
    expect(verifySsh(parsed.payload, parsed.signature!, [hoist.publicKey])).toBeDefined();
    // Re-adding the signature gives back the very object git made.
    expect(withSignature(parsed.payload, parsed.signature!, 'sha1').equals(raw)).toBe(true);
  });
});
