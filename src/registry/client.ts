/**
 * The registry client: resolves `<image>:<tag>` to its manifest digest through the OCI distribution API, with
 * Docker's token flow and Basic auth. Parsing (image references, challenges) is pure and lives beside it.
 *
 * - OCI distribution-spec (spec.md, "Checking if content exists in the registry"): a `HEAD /v2/<name>/manifests/<reference>`
 *   of an existing manifest MUST answer `200 OK` and SHOULD carry the digest in `Docker-Content-Digest`; a missing
 *   one MUST answer `404 Not Found`. SHOULD, not MUST: when the header is absent Hoist GETs the manifest and hashes
 *   the bytes itself (sha256, the digest kustomize and the kubelet pull by).
 * - docker/distribution docs/spec/auth/token.md: a `401` names the token service in `WWW-Authenticate: Bearer
 *   realm=…,service=…,scope=…`; the client GETs `realm?service=…&scope=…` (Basic credentials when it has some,
 *   anonymous otherwise), takes `token` (or its OAuth 2.0 name `access_token`) and retries with
 *   `Authorization: Bearer`. `expires_in` defaults to 60 s when omitted.
 */
import { createHash } from 'node:crypto';
import { HoistError } from '../errors.js';
import { isValidDigest, isValidTag } from '../kustomize/image-ref.js';
import { isLoopbackHost, registryOf, type RegistryRef } from './reference.js';
import { chooseChallenge, parseWwwAuthenticate, type BearerChallenge } from './www-authenticate.js';

/** `registries.<host>` of the config. */
export interface RegistrySettings {
  username?: string | undefined;
  password?: string | undefined;
  /** Plain http to a registry that is not on a loopback address. */
  insecure?: boolean | undefined;
}

export interface RegistryClientOptions {
  /** Per registry host, its credentials and whether it speaks plain http; a host not listed is asked anonymously. */
  registries?: Readonly<Record<string, RegistrySettings>>;
  /** Per request (connect, answer and body): a registry that takes longer is counted as down. Default 10 s. */
  timeoutMs?: number;
  fetch?: typeof fetch;
  now?: () => number;
}

export interface RegistryClient {
  /**
   * The manifest digest `image:tag` points at now. Throws HoistError `image_not_found` (no such tag: not retryable),
   * `registry_auth` (credentials refused or missing: not retryable) or `unavailable` (unreachable, 5xx, timeouts:
   * retryable).
   */
  resolveDigest(image: string, tag: string): Promise<string>;
}

/** An image index or manifest list (a multi-arch tag) is what the tag names: its digest is the one to pin. */
export const MANIFEST_MEDIA_TYPES = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
] as const;

/** Registries accept manifests of at least 4 MiB (distribution-spec); more is not a manifest. */
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
const MAX_TOKEN_RESPONSE_BYTES = 64 * 1024;
const DEFAULT_TOKEN_SECONDS = 60;

interface CachedToken {
  token: string;
  expiresAt: number;
}

function basicAuthorization(settings: RegistrySettings | undefined): string | undefined {
  if (settings?.username === undefined || settings.password === undefined) return undefined;
  return `Basic ${Buffer.from(`${settings.username}:${settings.password}`, 'utf8').toString('base64')}`;
}

function reasonOf(error: unknown): string {
  if (error instanceof Error && error.name === 'TimeoutError') return 'timed out';
  const cause = error instanceof Error ? (error.cause as { code?: string; message?: string } | undefined) : undefined;
  return cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error));
}

/** Reads at most `max` bytes of a body; a longer one is refused rather than buffered. */
async function readBounded(response: Response, max: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  const reader = response.body?.getReader();
  if (!reader) return Buffer.alloc(0);
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel().catch(() => undefined);
      throw new HoistError('unavailable', `${what} is larger than ${max} bytes`, { retryable: false });
    }
    chunks.push(Buffer.from(value));
  }
  return Buffer.concat(chunks);
}

const discard = (response: Response) => response.body?.cancel().catch(() => undefined);

export function createRegistryClient(options: RegistryClientOptions = {}): RegistryClient {
  const registries = options.registries ?? {};
  const doFetch = options.fetch ?? fetch;
  const now = options.now ?? Date.now;
  const timeoutMs = options.timeoutMs ?? 10_000;
  /** Bearer tokens by host and scope, until they expire. */
  const tokens = new Map<string, CachedToken>();
  const fetching = new Map<string, Promise<string>>();
  /** Hosts that asked for Basic: later requests send the credentials at once instead of after a 401. */
  const basicHosts = new Set<string>();

  const settingsOf = (ref: RegistryRef): RegistrySettings | undefined => {
    for (const key of ref.credentialKeys) if (registries[key]) return registries[key];
    return undefined;
  };

  const send = async (url: string, init: RequestInit, what: string): Promise<Response> => {
    try {
      return await doFetch(url, { ...init, redirect: 'follow', signal: AbortSignal.timeout(timeoutMs) });
    } catch (error) {
      throw new HoistError('unavailable', `${what}: ${reasonOf(error)}`, { retryable: true, cause: error });
    }
  };

  const cachedToken = (key: string): string | undefined => {
    const cached = tokens.get(key);
    if (cached && cached.expiresAt > now()) return cached.token;
    tokens.delete(key);
    return undefined;
  };

  const requestToken = async (ref: RegistryRef, settings: RegistrySettings | undefined, challenge: BearerChallenge, scope: string): Promise<string> => {
    let realm: URL;
    try {
      realm = new URL(challenge.realm);
    } catch (error) {
      throw new HoistError('registry_auth', `registry ${ref.host} names a token service that is not a URL (${JSON.stringify(challenge.realm.slice(0, 200))})`, { retryable: false, cause: error });
    }
    // Credentials go to an https token service only (or a loopback one, or one the config marks insecure).
    const plainAllowed = isLoopbackHost(realm.host) || settings?.insecure === true;
    if (realm.protocol !== 'https:' && !(realm.protocol === 'http:' && plainAllowed)) {
      throw new HoistError('registry_auth', `registry ${ref.host} names the token service ${realm.origin}, which is not https`, { retryable: false });
    }
    if (challenge.service !== undefined) realm.searchParams.set('service', challenge.service);
    realm.searchParams.append('scope', scope);
    const basic = basicAuthorization(settings);
    const what = `token service ${realm.host} of registry ${ref.host}`;
    const response = await send(realm.href, { method: 'GET', headers: basic ? { Authorization: basic } : {} }, `${what} cannot be reached`);
    if (response.status === 401 || response.status === 403) {
      await discard(response);
      throw new HoistError(
        'registry_auth',
        basic
          ? `${what} refused the credentials of registries["${ref.credentialKeys[0]}"] (HTTP ${response.status})`
          : `${what} refused an anonymous token for ${scope} (HTTP ${response.status}): set registries["${ref.credentialKeys[0]}"].username and password`,
        { retryable: false },
      );
    }
    if (response.status === 429 || response.status >= 500) {
      await discard(response);
      throw new HoistError('unavailable', `${what} answered HTTP ${response.status}`, { retryable: true });
    }
    if (!response.ok) {
      await discard(response);
      throw new HoistError('registry_auth', `${what} answered HTTP ${response.status} to a token request for ${scope}`, { retryable: false });
    }
    let body: { token?: unknown; access_token?: unknown; expires_in?: unknown };
    try {
      body = JSON.parse((await readBounded(response, MAX_TOKEN_RESPONSE_BYTES, `the answer of ${what}`)).toString('utf8')) as typeof body;
    } catch (error) {
      if (error instanceof HoistError) throw error;
      throw new HoistError('registry_auth', `${what} answered with something that is not JSON`, { retryable: false, cause: error });
    }
    const token = typeof body.token === 'string' && body.token !== '' ? body.token : body.access_token;
    if (typeof token !== 'string' || token === '' || /[\r\n]/.test(token)) throw new HoistError('registry_auth', `${what} answered without a token`, { retryable: false });
    const seconds = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : DEFAULT_TOKEN_SECONDS;
    // A little before the service's own deadline, so a token is never sent just as it lapses.
    tokens.set(`${ref.host}\n${scope}`, { token, expiresAt: now() + seconds * 1000 - Math.min(10_000, seconds * 100) });
    return token;
  };

  /** One token request at a time per host and scope: concurrent promotions of one image share it. */
  const tokenFor = (ref: RegistryRef, settings: RegistrySettings | undefined, challenge: BearerChallenge, scope: string): Promise<string> => {
    const key = `${ref.host}\n${scope}`;
    const cached = cachedToken(key);
    if (cached) return Promise.resolve(cached);
    const running = fetching.get(key);
    if (running) return running;
    const request = requestToken(ref, settings, challenge, scope).finally(() => fetching.delete(key));
    fetching.set(key, request);
    return request;
  };

  return {
    async resolveDigest(image, tag) {
      if (!isValidTag(tag)) throw new HoistError('bad_request', `invalid image tag ${JSON.stringify(tag)}`, { retryable: false });
      const ref = registryOf(image);
      const settings = settingsOf(ref);
      const scheme = isLoopbackHost(ref.host) || settings?.insecure === true ? 'http' : 'https';
      // Names and tags are validated to characters a URL path carries as they are.
      const url = `${scheme}://${ref.host}/v2/${ref.name}/manifests/${tag}`;
      const scope = `repository:${ref.name}:pull`;
      const where = `${image}:${tag}`;
      const basic = basicAuthorization(settings);
      const headers = (authorization: string | undefined): Record<string, string> => ({
        Accept: MANIFEST_MEDIA_TYPES.join(', '),
        ...(authorization ? { Authorization: authorization } : {}),
      });
      const manifest = (method: 'HEAD' | 'GET', authorization: string | undefined) =>
        send(url, { method, headers: headers(authorization) }, `registry ${ref.host} cannot be reached for ${where}`);

      const cached = cachedToken(`${ref.host}\n${scope}`);
      let authorization = cached ? `Bearer ${cached}` : basicHosts.has(ref.host) ? basic : undefined;
      let response = await manifest('HEAD', authorization);
      if (response.status === 401) {
        const challenge = chooseChallenge(parseWwwAuthenticate(response.headers.get('www-authenticate') ?? ''));
        await discard(response);
        // A token the registry no longer takes (expired early, revoked) is dropped and asked for again, once.
        if (cached) tokens.delete(`${ref.host}\n${scope}`);
        if (challenge?.scheme === 'bearer') {
          authorization = `Bearer ${await tokenFor(ref, settings, challenge, challenge.scope ?? scope)}`;
        } else if (challenge?.scheme === 'basic') {
          if (!basic) {
            throw new HoistError('registry_auth', `registry ${ref.host} asks for credentials (Basic) to read ${ref.name}: set registries["${ref.credentialKeys[0]}"].username and password`, { retryable: false });
          }
          basicHosts.add(ref.host);
          authorization = basic;
        } else {
          throw new HoistError('registry_auth', `registry ${ref.host} answered HTTP 401 for ${where} without a Bearer or Basic challenge Hoist can answer`, { retryable: false });
        }
        response = await manifest('HEAD', authorization);
        if (response.status === 401) {
          await discard(response);
          const used = challenge.scheme === 'basic' ? `the credentials of registries["${ref.credentialKeys[0]}"]` : 'the token its token service issued';
          throw new HoistError('registry_auth', `registry ${ref.host} refused ${used} for ${ref.name} (HTTP 401 after authenticating)`, { retryable: false });
        }
      }
      return digestOf(response, { ref, where, authorization, get: () => manifest('GET', authorization) });
    },
  };
}

/** The digest a manifest answer gives, or the reason there is none. */
async function digestOf(
  response: Response,
  context: { ref: RegistryRef; where: string; authorization: string | undefined; get: () => Promise<Response> },
): Promise<string> {
  const { ref, where } = context;
  const status = response.status;
  if (status === 404) {
    await discard(response);
    throw new HoistError('image_not_found', `registry ${ref.host} has no image ${where} (HTTP 404: no such tag, or no such repository)`, { retryable: false });
  }
  if (status === 403) {
    await discard(response);
    throw new HoistError('registry_auth', `registry ${ref.host} denies reading ${ref.name} (HTTP 403)`, { retryable: false });
  }
  if (status === 429 || status >= 500) {
    await discard(response);
    throw new HoistError('unavailable', `registry ${ref.host} answered HTTP ${status} for ${where}`, { retryable: true });
  }
  if (status !== 200) {
    await discard(response);
    throw new HoistError('image_not_found', `registry ${ref.host} answered HTTP ${status} for ${where}`, { retryable: false });
  }
  const header = response.headers.get('docker-content-digest')?.trim();
  await discard(response);
  if (header && isValidDigest(header)) return header;
  // The header is a SHOULD: without it, the digest is the sha256 of the manifest's bytes as the registry serves them.
  const full = await context.get();
  if (full.status !== 200) return digestOf(full, context);
  const body = await readBounded(full, MAX_MANIFEST_BYTES, `the manifest of ${where}`);
  return `sha256:${createHash('sha256').update(body).digest('hex')}`;
}
