/**
 * SSH signatures as git's `gpg.format=ssh` makes them (`ssh-keygen -Y sign -n git`), for ed25519 keys, in-process.
 *
 * Formats, from OpenSSH's own specifications (openssh-portable): PROTOCOL.sshsig (the armored `SSH SIGNATURE`
 * blob and the data it signs) and PROTOCOL.key (the `openssh-key-v1` private key file `ssh-keygen` writes); RFC 4251
 * §5 for the wire types (uint32, string) and RFC 8709 for ssh-ed25519 keys and signatures. Node's crypto does the
 * ed25519 and SHA-512 work; only the byte layouts are ours. Signing in-process keeps a process spawn (ssh-keygen,
 * ~10 ms through git) off every commit, and verifying in-process makes reading 2,000 commits of history cheap.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';

const MAGIC = Buffer.from('SSHSIG');
const ED25519 = 'ssh-ed25519';
const NAMESPACE = 'git';
const ARMOR_BEGIN = '-----BEGIN SSH SIGNATURE-----';
const ARMOR_END = '-----END SSH SIGNATURE-----';
const OPENSSH_BEGIN = '-----BEGIN OPENSSH PRIVATE KEY-----';
const OPENSSH_END = '-----END OPENSSH PRIVATE KEY-----';

export interface SshPublicKey {
  /** The wire blob: string "ssh-ed25519", string key(32). */
  blob: Buffer;
  /** `ssh-ed25519 AAAA… [comment]`, as in authorized_keys and GitLab's SSH key form. */
  text: string;
  /** `SHA256:…`, as `ssh-keygen -lf` prints it. */
  fingerprint: string;
}

export interface SigningKey {
  privateKey: KeyObject;
  publicKey: SshPublicKey;
}

/** Why a key text was refused, in words for the config error. */
export class KeyFormatError extends Error {
  override readonly name = 'KeyFormatError';
}

function sshString(value: Buffer | string): Buffer {
  const bytes = typeof value === 'string' ? Buffer.from(value) : value;
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

/** Reads RFC 4251 wire values from a buffer, refusing anything that runs past its end. */
class WireReader {
  private at = 0;
  constructor(private readonly bytes: Buffer) {}
  uint32(): number {
    if (this.at + 4 > this.bytes.length) throw new KeyFormatError('truncated data');
    const value = this.bytes.readUInt32BE(this.at);
    this.at += 4;
    return value;
  }
  string(): Buffer {
    const length = this.uint32();
    if (this.at + length > this.bytes.length) throw new KeyFormatError('truncated data');
    const value = this.bytes.subarray(this.at, this.at + length);
    this.at += length;
    return value;
  }
  raw(length: number): Buffer {
    if (this.at + length > this.bytes.length) throw new KeyFormatError('truncated data');
    const value = this.bytes.subarray(this.at, this.at + length);
    this.at += length;
    return value;
  }
  get remaining(): number {
    return this.bytes.length - this.at;
  }
}

const base64url = (bytes: Buffer) => bytes.toString('base64url');

function publicKeyFromRaw(raw: Buffer, comment = ''): SshPublicKey {
  if (raw.length !== 32) throw new KeyFormatError('an ed25519 public key has 32 bytes');
  const blob = Buffer.concat([sshString(ED25519), sshString(raw)]);
  const fingerprint = `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
  return { blob, text: `${ED25519} ${blob.toString('base64')}${comment ? ` ${comment}` : ''}`, fingerprint };
}

function rawOfBlob(blob: Buffer): Buffer {
  const reader = new WireReader(blob);
  const type = reader.string().toString();
  if (type !== ED25519) throw new KeyFormatError(`only ssh-ed25519 keys are supported, not ${type}`);
  const raw = reader.string();
  if (raw.length !== 32 || reader.remaining !== 0) throw new KeyFormatError('malformed ssh-ed25519 public key');
  return raw;
}

function rawPublicKeyOf(key: KeyObject): Buffer {
  const jwk = key.export({ format: 'jwk' });
  if (jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') throw new KeyFormatError('the signing key must be an ed25519 key');
  return Buffer.from(jwk.x, 'base64url');
}

/** `ssh-ed25519 AAAA… [comment]` → the key; anything else is refused with the reason. */
export function parsePublicKey(line: string): SshPublicKey {
  const [type, data, ...comment] = line.trim().split(/\s+/);
  if (type !== ED25519 || data === undefined) throw new KeyFormatError(`expected "ssh-ed25519 AAAA…", got "${line.trim().slice(0, 40)}"`);
  return publicKeyFromRaw(rawOfBlob(Buffer.from(data, 'base64')), comment.join(' '));
}

/** An unencrypted `openssh-key-v1` file holding one ed25519 key (PROTOCOL.key). */
function parseOpenSshPrivateKey(text: string): SigningKey {
  const body = text.slice(text.indexOf(OPENSSH_BEGIN) + OPENSSH_BEGIN.length, text.indexOf(OPENSSH_END)).replace(/\s+/g, '');
  const bytes = Buffer.from(body, 'base64');
  const magic = Buffer.from('openssh-key-v1\0');
  if (!bytes.subarray(0, magic.length).equals(magic)) throw new KeyFormatError('not an openssh-key-v1 private key');
  const reader = new WireReader(bytes.subarray(magic.length));
  const cipher = reader.string().toString();
  const kdf = reader.string().toString();
  reader.string(); // kdf options
  if (cipher !== 'none' || kdf !== 'none') {
    throw new KeyFormatError('the signing key is protected by a passphrase; give Hoist an unencrypted key (keep it in a Secret instead)');
  }
  if (reader.uint32() !== 1) throw new KeyFormatError('the key file must hold exactly one key');
  const publicBlob = reader.string();
  const secret = new WireReader(reader.string());
  if (secret.uint32() !== secret.uint32()) throw new KeyFormatError('corrupt private key (check values differ)');
  const type = secret.string().toString();
  if (type !== ED25519) throw new KeyFormatError(`the signing key must be an ed25519 key (ssh-keygen -t ed25519), not ${type}`);
  const pub = secret.string();
  const priv = secret.string();
  const comment = secret.string().toString();
  if (pub.length !== 32 || priv.length !== 64 || !priv.subarray(32).equals(pub) || !rawOfBlob(publicBlob).equals(pub)) {
    throw new KeyFormatError('corrupt ed25519 private key');
  }
  const privateKey = createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', d: base64url(priv.subarray(0, 32)), x: base64url(pub) }, format: 'jwk' });
  return { privateKey, publicKey: publicKeyFromRaw(pub, comment) };
}

/**
 * The private key as `ssh-keygen -t ed25519` writes it (OpenSSH format, no passphrase) or as PKCS#8 PEM
 * (`-----BEGIN PRIVATE KEY-----`, how Hoist keeps a key it made itself).
 */
export function parseSigningKey(text: string, comment = 'hoist'): SigningKey {
  if (text.includes(OPENSSH_BEGIN)) return parseOpenSshPrivateKey(text);
  if (!text.includes('-----BEGIN')) throw new KeyFormatError('not a private key (expected "-----BEGIN OPENSSH PRIVATE KEY-----")');
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(text);
  } catch (error) {
    throw new KeyFormatError(`cannot read the private key: ${(error as Error).message}`);
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new KeyFormatError(`the signing key must be an ed25519 key, not ${privateKey.asymmetricKeyType ?? 'unknown'}`);
  return { privateKey, publicKey: publicKeyFromRaw(rawPublicKeyOf(createPublicKey(privateKey)), comment) };
}

/** A new ed25519 key pair, the private half as PKCS#8 PEM. */
export function generateSigningKey(): { privateKeyPem: string; key: SigningKey } {
  const { privateKey } = generateKeyPairSync('ed25519');
  const privateKeyPem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  return { privateKeyPem, key: parseSigningKey(privateKeyPem) };
}

/** PROTOCOL.sshsig: what the signature actually signs (MAGIC, namespace, reserved, hash algorithm, H(message)). */
function signedData(message: Buffer, hashAlgorithm: 'sha256' | 'sha512'): Buffer {
  const digest = createHash(hashAlgorithm).update(message).digest();
  return Buffer.concat([MAGIC, sshString(NAMESPACE), sshString(''), sshString(hashAlgorithm), sshString(digest)]);
}

/** `ssh-keygen -Y sign -n git`'s output for `message`: an armored SSHSIG, wrapped at 70 columns, ending in a newline. */
export function signSsh(message: Buffer, key: SigningKey): string {
  const signature = sign(null, signedData(message, 'sha512'), key.privateKey);
  const version = Buffer.alloc(4);
  version.writeUInt32BE(1);
  const blob = Buffer.concat([
    MAGIC,
    version,
    sshString(key.publicKey.blob),
    sshString(NAMESPACE),
    sshString(''),
    sshString('sha512'),
    sshString(Buffer.concat([sshString(ED25519), sshString(signature)])),
  ]);
  const lines = blob.toString('base64').match(/.{1,70}/g) ?? [];
  return `${ARMOR_BEGIN}\n${lines.join('\n')}\n${ARMOR_END}\n`;
}

/**
 * The trusted key that made this armored SSHSIG over `message` in the `git` namespace, or undefined: a
 * malformed signature, another namespace, an untrusted or non-ed25519 key, or a signature that does not verify.
 */
export function verifySsh(message: Buffer, armored: string, trusted: readonly SshPublicKey[]): SshPublicKey | undefined {
  try {
    const begin = armored.indexOf(ARMOR_BEGIN);
    const end = armored.indexOf(ARMOR_END);
    if (begin < 0 || end < begin) return undefined;
    const blob = Buffer.from(armored.slice(begin + ARMOR_BEGIN.length, end).replace(/\s+/g, ''), 'base64');
    if (!blob.subarray(0, MAGIC.length).equals(MAGIC)) return undefined;
    const reader = new WireReader(blob.subarray(MAGIC.length));
    if (reader.uint32() !== 1) return undefined;
    const publicBlob = reader.string();
    const namespace = reader.string().toString();
    reader.string(); // reserved
    const hashAlgorithm = reader.string().toString();
    const signatureBlob = reader.string();
    if (namespace !== NAMESPACE || (hashAlgorithm !== 'sha256' && hashAlgorithm !== 'sha512')) return undefined;
    const key = trusted.find((k) => k.blob.equals(publicBlob));
    if (!key) return undefined;
    const signature = new WireReader(signatureBlob);
    if (signature.string().toString() !== ED25519) return undefined;
    const raw = signature.string();
    const publicKey = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: base64url(rawOfBlob(publicBlob)) }, format: 'jwk' });
    return verify(null, signedData(message, hashAlgorithm), publicKey, raw) ? key : undefined;
  } catch {
    return undefined;
  }
}
