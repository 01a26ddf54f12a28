import { readFile } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import type { Logger } from 'pino';
import { HoistError } from '../errors.js';
import type { SigningKeyRecord } from '../store/signing-key.js';
import { generateSigningKey, KeyFormatError, parsePublicKey, parseSigningKey, type SigningKey, type SshPublicKey } from './ssh-signature.js';

export interface SigningKeys {
  /** Hoist's own key: `gitops.signingKey`, else the one Hoist keeps in Redis. */
  signer(): Promise<SigningKey>;
  /** The public keys whose signatures make a commit Hoist's: its own first, then `gitops.trustedKeys`. */
  trusted(): Promise<readonly SshPublicKey[]>;
  /** Resolves the key and logs where it comes from (the public key, with a warning when it lives in Redis). */
  ready(): Promise<void>;
}

export interface SigningKeysOptions {
  /** `gitops.signingKey`: the private key's text, or a path to it (relative to `baseDir`). */
  configured?: string | undefined;
  /** `gitops.trustedKeys`. */
  trustedKeys: readonly string[];
  record: SigningKeyRecord;
  /** Where relative key paths start: the config file's directory. */
  baseDir: string;
  logger: Logger;
}

const invalid = (what: string, error: unknown) =>
  new HoistError('config_invalid', `${what}: ${error instanceof KeyFormatError || error instanceof Error ? error.message : String(error)}`, { cause: error });

/** Reads the trusted keys at once (a config error stops start-up) and the signing key on first use. */
export function createSigningKeys(options: SigningKeysOptions): SigningKeys {
  const extra = options.trustedKeys.map((line, i) => {
    try {
      return parsePublicKey(line);
    } catch (error) {
      throw invalid(`gitops.trustedKeys[${i}]`, error);
    }
  });
  let source: 'config' | 'redis' | 'redis-new' = 'config';
  const load = async (): Promise<SigningKey> => {
    const configured = options.configured?.trim();
    if (configured) {
      let text = configured;
      if (!configured.includes('-----BEGIN')) {
        const path = isAbsolute(configured) ? configured : resolve(options.baseDir, configured);
        text = await readFile(path, 'utf8').catch((error: unknown) => {
          throw invalid(`gitops.signingKey: cannot read ${path}`, error);
        });
      }
      try {
        return parseSigningKey(text);
      } catch (error) {
        throw invalid('gitops.signingKey', error);
      }
    }
    const { text, created } = await options.record.ensure(() => generateSigningKey().privateKeyPem);
    source = created ? 'redis-new' : 'redis';
    try {
      return parseSigningKey(text);
    } catch (error) {
      throw invalid('the signing key stored in Redis', error);
    }
  };
  let key: Promise<SigningKey> | undefined;
  const signer = () => {
    key ??= load().catch((error: unknown) => {
      key = undefined; // Redis may come back
      throw error;
    });
    return key;
  };
  return {
    signer,
    async trusted() {
      const own = await signer();
      return [own.publicKey, ...extra.filter((k) => !k.blob.equals(own.publicKey.blob))];
    },
    async ready() {
      const own = await signer();
      const fields = { publicKey: own.publicKey.text, fingerprint: own.publicKey.fingerprint, trustedKeys: extra.length };
      if (source === 'config') {
        options.logger.info(fields, 'signing GitOps commits with gitops.signingKey');
        return;
      }
      options.logger.warn(
        fields,
        `signing GitOps commits with a key Hoist ${source === 'redis-new' ? 'made now and keeps' : 'keeps'} in Redis: set gitops.signingKey ` +
          '(a Redis that loses its data loses this key, and Hoist\'s earlier commits then count as outside changes). ' +
          'Add the public key to the Hoist GitLab user as a signing key to see its commits Verified.',
      );
    },
  };
}
