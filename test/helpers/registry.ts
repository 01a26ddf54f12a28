/**
 * A real OCI registry for tests: Debian's `docker-registry` (distribution 2.8) on a free loopback port with a temp
 * config and storage, anonymous, behind htpasswd (Basic), or behind a token service written here the way
 * docker/distribution docs/spec/auth/token.md and jwt.md describe it (ES256 JWTs with an x5c certificate the
 * registry trusts). Images are pushed through the registry's own HTTP API; a recording proxy counts what Hoist asks.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, generateKeyPairSync, randomUUID, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { once } from 'node:events';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROJECT_ROOT } from './git-repos.js';
import { freePort } from './redis-server.js';

export const REGISTRY_BINARY = process.env.HOIST_TEST_REGISTRY ?? '/usr/bin/docker-registry';
/** test/fixtures/registry/htpasswd holds this user (see its README for how the bcrypt line was made). */
export const HTPASSWD_USER = { username: 'hoist', password: 'hoist-test-password' } as const;
export const TOKEN_SERVICE = 'hoist-test-registry';
const TOKEN_ISSUER = 'hoist-test-issuer';

export interface RecordedRequest {
  method: string;
  path: string;
  accept?: string | undefined;
  authorization?: string | undefined;
}

export interface TokenServer {
  url: string;
  /** Every token request, as it arrived. */
  requests: Array<{ path: string; query: URLSearchParams; authorization?: string | undefined }>;
  /** A token as the service issues it, for the test's own pushes. */
  mint(scope: { name: string; actions: string[] }): string;
}

export interface TestRegistry {
  /** `127.0.0.1:<port>`, as an image names it. */
  host: string;
  url: string;
  /** The token service in front of it (auth: 'token'). */
  tokens?: TokenServer | undefined;
  /** Pushes a one-layer OCI image (its layer holds `content`) and returns the manifest digest the registry reports. */
  push(name: string, tag: string, content?: string): Promise<string>;
  stop(): Promise<void>;
}

export type RegistryAuth = 'none' | 'htpasswd' | 'token';

async function waitUntilServing(url: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited with ${child.exitCode}: ${output()}`);
    try {
      const res = await fetch(`${url}/v2/`);
      await res.body?.cancel();
      if (res.status === 200 || res.status === 401) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`docker-registry did not start at ${url}: ${output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Starts `docker-registry` on a free port; `auth` picks anonymous, htpasswd (Basic) or a token service (Bearer). */
export async function startRegistry(options: { auth?: RegistryAuth } = {}): Promise<TestRegistry> {
  const auth = options.auth ?? 'none';
  const dir = await mkdtemp(join(tmpdir(), 'hoist-registry-'));
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const url = `http://${host}`;
  let tokens: (TokenServer & { close(): Promise<void> }) | undefined;
  let authConfig = '';
  if (auth === 'htpasswd') {
    await copyFile(join(PROJECT_ROOT, 'test/fixtures/registry/htpasswd'), join(dir, 'htpasswd'));
    authConfig = `auth:\n  htpasswd:\n    realm: hoist-test\n    path: ${join(dir, 'htpasswd')}\n`;
  } else if (auth === 'token') {
    tokens = await startTokenServer(dir);
    authConfig = `auth:\n  token:\n    realm: ${tokens.url}/token\n    service: ${TOKEN_SERVICE}\n    issuer: ${TOKEN_ISSUER}\n    rootcertbundle: ${join(dir, 'token-issuer.pem')}\n`;
  }
  const config = join(dir, 'config.yml');
  await writeFile(
    config,
    `version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, 'data')}\n  delete:\n    enabled: true\nhttp:\n  addr: ${host}\n  secret: ${randomUUID()}\n${authConfig}`,
  );
  const child = spawn(REGISTRY_BINARY, ['serve', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000)));
  child.stderr?.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000)));
  child.once('error', (error) => (output += `\n${error.message}`));
  await waitUntilServing(url, child, () => output);

  const pushAuthorization = (name: string): string | undefined => {
    if (auth === 'htpasswd') return `Basic ${Buffer.from(`${HTPASSWD_USER.username}:${HTPASSWD_USER.password}`).toString('base64')}`;
    if (tokens) return `Bearer ${tokens.mint({ name, actions: ['pull', 'push'] })}`;
    return undefined;
  };

  return {
    host,
    url,
    tokens,
    push: (name, tag, content) => pushImage(url, name, tag, content ?? `${name}:${tag} ${randomUUID()}`, pushAuthorization(name)),
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await once(child, 'exit');
      }
      await tokens?.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

const sha256 = (data: Buffer | string) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

async function pushBlob(url: string, name: string, blob: Buffer, authorization: string | undefined): Promise<string> {
  const digest = sha256(blob);
  const headers: Record<string, string> = authorization ? { Authorization: authorization } : {};
  const started = await fetch(`${url}/v2/${name}/blobs/uploads/`, { method: 'POST', headers });
  await started.body?.cancel();
  if (started.status !== 202) throw new Error(`blob upload of ${name} did not start: HTTP ${started.status}`);
  const location = new URL(started.headers.get('location') ?? '', url);
  location.searchParams.set('digest', digest);
  const put = await fetch(location, { method: 'PUT', headers: { ...headers, 'Content-Type': 'application/octet-stream' }, body: blob });
  await put.body?.cancel();
  if (put.status !== 201) throw new Error(`blob upload of ${name} failed: HTTP ${put.status}`);
  return digest;
}

/** The registry's own push API: POST + PUT ?digest= per blob (config, one layer), then PUT the OCI manifest. */
export async function pushImage(url: string, name: string, tag: string, content: string, authorization?: string): Promise<string> {
  const layer = Buffer.from(content);
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha256(layer)] } }));
  const configDigest = await pushBlob(url, name, config, authorization);
  const layerDigest = await pushBlob(url, name, layer, authorization);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layerDigest, size: layer.length }],
    }),
  );
  const put = await fetch(`${url}/v2/${name}/manifests/${tag}`, {
    method: 'PUT',
    headers: { ...(authorization ? { Authorization: authorization } : {}), 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' },
    body: manifest,
  });
  await put.body?.cancel();
  if (put.status !== 201) throw new Error(`manifest push of ${name}:${tag} failed: HTTP ${put.status}`);
  const digest = put.headers.get('docker-content-digest') ?? '';
  if (digest !== sha256(manifest)) throw new Error(`the registry reports ${digest} for a manifest whose sha256 is ${sha256(manifest)}`);
  return digest;
}

export interface RecordingProxy {
  /** `127.0.0.1:<port>`: name images with it to reach the registry through the proxy. */
  host: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

/**
 * A pass-through HTTP proxy in front of `target` that records every request: what Hoist asked the registry.
 * `dropDigestHeader` plays a registry that leaves out Docker-Content-Digest (the spec's SHOULD, not MUST).
 */
export async function startRecordingProxy(target: string, options: { dropDigestHeader?: boolean } = {}): Promise<RecordingProxy> {
  const requests: RecordedRequest[] = [];
  const upstream = new URL(target);
  const server: Server = createServer((req: IncomingMessage, res) => {
    requests.push({ method: req.method ?? '', path: req.url ?? '', accept: req.headers.accept, authorization: req.headers.authorization });
    const forward = httpRequest(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, host: upstream.host } },
      (answer) => {
        const headers = { ...answer.headers };
        if (options.dropDigestHeader) delete headers['docker-content-digest'];
        res.writeHead(answer.statusCode ?? 502, headers);
        answer.pipe(res);
      },
    );
    forward.once('error', () => {
      res.writeHead(502);
      res.end();
    });
    req.pipe(forward);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    host: `127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

// DER, just enough for one self-signed certificate (RFC 5280): the registry trusts token signers by certificate.
const der = (tag: number, content: Buffer): Buffer => {
  const n = content.length;
  const length = n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), length, content]);
};
const sequence = (...items: Buffer[]) => der(0x30, Buffer.concat(items));
const ECDSA_WITH_SHA256 = der(0x06, Buffer.from([0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02]));
const COMMON_NAME = der(0x06, Buffer.from([0x55, 0x04, 0x03]));
const utcTime = (date: Date) => der(0x17, Buffer.from(`${date.toISOString().slice(2, 19).replace(/[-:T]/g, '')}Z`));

function selfSignedCertificate(privateKey: KeyObject, publicKey: KeyObject, commonName: string): Buffer {
  const name = sequence(der(0x31, sequence(COMMON_NAME, der(0x0c, Buffer.from(commonName)))));
  const now = Date.now();
  const tbs = sequence(
    der(0xa0, der(0x02, Buffer.from([2]))), // v3
    der(0x02, Buffer.from([1])),
    sequence(ECDSA_WITH_SHA256),
    name,
    sequence(utcTime(new Date(now - 3_600_000)), utcTime(new Date(now + 86_400_000))),
    name,
    publicKey.export({ type: 'spki', format: 'der' }),
  );
  const signature = sign('sha256', tbs, privateKey);
  const certificate = sequence(tbs, sequence(ECDSA_WITH_SHA256), der(0x03, Buffer.concat([Buffer.from([0]), signature])));
  if (!new X509Certificate(certificate).verify(publicKey)) throw new Error('the test token issuer certificate does not verify');
  return certificate;
}

const base64url = (data: Buffer | string) => Buffer.from(data).toString('base64url');

/**
 * The token service: `GET /token?service=…&scope=repository:<name>:<actions>` with Basic credentials of
 * HTPASSWD_USER answers `{ token, expires_in }`; anything else (no or wrong credentials) gets 401. Tokens are ES256
 * JWTs naming the certificate in `x5c`, with the claims distribution checks (iss, aud, exp, nbf, access).
 */
async function startTokenServer(dir: string): Promise<TokenServer & { close(): Promise<void> }> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const certificate = selfSignedCertificate(privateKey, publicKey, TOKEN_ISSUER);
  const pem = `-----BEGIN CERTIFICATE-----\n${certificate.toString('base64').replace(/(.{64})/g, '$1\n')}\n-----END CERTIFICATE-----\n`;
  await writeFile(join(dir, 'token-issuer.pem'), pem.replace(/\n\n/g, '\n'));
  const mint = (scope: { name: string; actions: string[] }): string => {
    const now = Math.floor(Date.now() / 1000);
    const header = base64url(JSON.stringify({ typ: 'JWT', alg: 'ES256', x5c: [certificate.toString('base64')] }));
    const claims = base64url(
      JSON.stringify({ iss: TOKEN_ISSUER, sub: HTPASSWD_USER.username, aud: TOKEN_SERVICE, exp: now + 300, nbf: now - 10, iat: now, jti: randomUUID(), access: [{ type: 'repository', name: scope.name, actions: scope.actions }] }),
    );
    const signature = sign('sha256', Buffer.from(`${header}.${claims}`), { key: privateKey, dsaEncoding: 'ieee-p1363' });
    return `${header}.${claims}.${base64url(signature)}`;
  };
  const requests: TokenServer['requests'] = [];
  const expected = `Basic ${Buffer.from(`${HTPASSWD_USER.username}:${HTPASSWD_USER.password}`).toString('base64')}`;
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://token.invalid');
    requests.push({ path: url.pathname, query: url.searchParams, authorization: req.headers.authorization });
    const scope = /^repository:([a-z0-9._/-]+):([a-z,]+)$/.exec(url.searchParams.get('scope') ?? '');
    if (url.pathname !== '/token' || url.searchParams.get('service') !== TOKEN_SERVICE || !scope) {
      res.writeHead(400, { 'Content-Type': 'application/json' }).end('{"errors":[{"code":"BAD_REQUEST"}]}');
      return;
    }
    if (req.headers.authorization !== expected) {
      res.writeHead(401, { 'Content-Type': 'application/json', 'WWW-Authenticate': 'Basic realm="hoist-test-token"' }).end('{"errors":[{"code":"UNAUTHORIZED"}]}');
      return;
    }
    const token = mint({ name: scope[1] ?? '', actions: (scope[2] ?? '').split(',') });
    res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ token, expires_in: 300, issued_at: new Date().toISOString() }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    mint,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
