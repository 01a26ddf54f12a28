import { once } from 'node:events';
import { createServer } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HoistError } from '../../src/errors.js';
import { createRegistryClient, MANIFEST_MEDIA_TYPES } from '../../src/registry/client.js';
import { closedPort, hoistFailure } from '../helpers/failures.js';
import { HTPASSWD_USER, startRecordingProxy, startRegistry, TOKEN_SERVICE, type RecordingProxy, type TestRegistry } from '../helpers/registry.js';

const scheme = (authorization: string | undefined) => authorization?.split(' ')[0];

describe('the registry client against a real docker-registry', () => {
  describe('anonymous', () => {
    let registry: TestRegistry;
    let proxy: RecordingProxy;
    let digest = '';
    beforeAll(async () => {
      registry = await startRegistry();
      digest = await registry.push('group/web', 'v1');
      proxy = await startRecordingProxy(registry.url);
    });
    afterAll(async () => {
      await proxy?.close();
      await registry?.stop();
    });

    it('resolves a tag with one HEAD that accepts OCI and Docker indexes and manifests', async () => {
      proxy.requests.length = 0;
      expect(await createRegistryClient().resolveDigest(`${proxy.host}/group/web`, 'v1')).toBe(digest);
      expect(proxy.requests).toEqual([{ method: 'HEAD', path: '/v2/group/web/manifests/v1', accept: MANIFEST_MEDIA_TYPES.join(', '), authorization: undefined }]);
      expect(MANIFEST_MEDIA_TYPES).toEqual([
        'application/vnd.oci.image.index.v1+json',
        'application/vnd.oci.image.manifest.v1+json',
        'application/vnd.docker.distribution.manifest.list.v2+json',
        'application/vnd.docker.distribution.manifest.v2+json',
      ]);
    });

    it('hashes the manifest itself when the registry leaves out Docker-Content-Digest', async () => {
      const bare = await startRecordingProxy(registry.url, { dropDigestHeader: true });
      try {
        expect(await createRegistryClient().resolveDigest(`${bare.host}/group/web`, 'v1')).toBe(digest);
        expect(bare.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['HEAD /v2/group/web/manifests/v1', 'GET /v2/group/web/manifests/v1']);
      } finally {
        await bare.close();
      }
    });

    it('refuses a tag the registry does not have, for good, naming image and tag', async () => {
      const error = await hoistFailure(createRegistryClient().resolveDigest(`${proxy.host}/group/web`, 'v404'));
      expect(error).toMatchObject({ code: 'image_not_found', retryable: false });
      expect(error.message).toContain(`${proxy.host}/group/web:v404`);
      const noRepository = await hoistFailure(createRegistryClient().resolveDigest(`${proxy.host}/group/nothing`, 'v1'));
      expect(noRepository).toMatchObject({ code: 'image_not_found', retryable: false });
    });

    it('counts a registry that is down or answers 5xx as unavailable: retryable', async () => {
      const port = await closedPort();
      const down = await hoistFailure(createRegistryClient().resolveDigest(`127.0.0.1:${port}/group/web`, 'v1'));
      expect(down).toMatchObject({ code: 'unavailable', retryable: true });
      expect(down.message).toContain(`registry 127.0.0.1:${port} cannot be reached`);

      const failing = createServer((_req, res) => res.writeHead(503).end());
      failing.listen(0, '127.0.0.1');
      await once(failing, 'listening');
      const address = failing.address();
      const host = `127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
      try {
        const unavailable = await hoistFailure(createRegistryClient().resolveDigest(`${host}/group/web`, 'v1'));
        expect(unavailable).toMatchObject({ code: 'unavailable', retryable: true });
        expect(unavailable.message).toBe(`registry ${host} answered HTTP 503 for ${host}/group/web:v1`);
      } finally {
        await new Promise((resolve) => failing.close(resolve));
      }
    });
  });

  describe('htpasswd (Basic)', () => {
    let registry: TestRegistry;
    let proxy: RecordingProxy;
    let digest = '';
    beforeAll(async () => {
      registry = await startRegistry({ auth: 'htpasswd' });
      digest = await registry.push('group/web', 'v1');
      proxy = await startRecordingProxy(registry.url);
    });
    afterAll(async () => {
      await proxy?.close();
      await registry?.stop();
    });

    it('answers the Basic challenge with the configured credentials, then sends them at once', async () => {
      proxy.requests.length = 0;
      const client = createRegistryClient({ registries: { [proxy.host]: HTPASSWD_USER } });
      expect(await client.resolveDigest(`${proxy.host}/group/web`, 'v1')).toBe(digest);
      expect(proxy.requests.map((r) => [r.method, scheme(r.authorization)])).toEqual([['HEAD', undefined], ['HEAD', 'Basic']]);
      expect(await client.resolveDigest(`${proxy.host}/group/web`, 'v1')).toBe(digest);
      expect(proxy.requests).toHaveLength(3);
      expect(scheme(proxy.requests[2]?.authorization)).toBe('Basic');
    });

    it('fails clearly without credentials and with wrong ones, naming the host and never the password', async () => {
      const missing = await hoistFailure(createRegistryClient().resolveDigest(`${proxy.host}/group/web`, 'v1'));
      expect(missing).toMatchObject({ code: 'registry_auth', retryable: false });
      expect(missing.message).toBe(`registry ${proxy.host} asks for credentials (Basic) to read group/web: set registries["${proxy.host}"].username and password`);
      const wrong = await hoistFailure(createRegistryClient({ registries: { [proxy.host]: { username: 'hoist', password: 'not-the-password' } } }).resolveDigest(`${proxy.host}/group/web`, 'v1'));
      expect(wrong).toMatchObject({ code: 'registry_auth', retryable: false });
      expect(wrong.message).toBe(`registry ${proxy.host} refused the credentials of registries["${proxy.host}"] for group/web (HTTP 401 after authenticating)`);
      expect(JSON.stringify([wrong.message, wrong.details])).not.toContain('not-the-password');
    });
  });

  describe('token service (Bearer)', () => {
    let registry: TestRegistry;
    let proxy: RecordingProxy;
    let digest = '';
    beforeAll(async () => {
      registry = await startRegistry({ auth: 'token' });
      digest = await registry.push('group/web', 'v1');
      proxy = await startRecordingProxy(registry.url);
    });
    afterAll(async () => {
      await proxy?.close();
      await registry?.stop();
    });

    it('follows the challenge to the token service with service and a pull scope, and caches the token until it expires', async () => {
      const tokens = registry.tokens!;
      tokens.requests.length = 0;
      proxy.requests.length = 0;
      let clock = Date.now();
      const client = createRegistryClient({ registries: { [proxy.host]: HTPASSWD_USER }, now: () => clock });
      expect(await client.resolveDigest(`${proxy.host}/group/web`, 'v1')).toBe(digest);
      expect(tokens.requests.map((r) => ({ path: r.path, query: Object.fromEntries(r.query), authorization: r.authorization }))).toEqual([
        {
          path: '/token',
          query: { service: TOKEN_SERVICE, scope: 'repository:group/web:pull' },
          authorization: `Basic ${Buffer.from(`${HTPASSWD_USER.username}:${HTPASSWD_USER.password}`).toString('base64')}`,
        },
      ]);
      expect(proxy.requests.map((r) => [r.method, r.path, scheme(r.authorization)])).toEqual([
        ['HEAD', '/v2/group/web/manifests/v1', undefined],
        ['HEAD', '/v2/group/web/manifests/v1', 'Bearer'],
      ]);

      // Within expires_in (300 s here): the same token, straight away, one request.
      clock += 200_000;
      expect(await client.resolveDigest(`${proxy.host}/group/web`, 'v1')).toBe(digest);
      expect(tokens.requests).toHaveLength(1);
      expect(proxy.requests.slice(2).map((r) => scheme(r.authorization))).toEqual(['Bearer']);

      // Past it: a new token.
      clock += 200_000;
      expect(await client.resolveDigest(`${proxy.host}/group/web`, 'v1')).toBe(digest);
      expect(tokens.requests).toHaveLength(2);
    });

    it('fails clearly when the token service refuses, naming both hosts', async () => {
      const anonymous = await hoistFailure(createRegistryClient().resolveDigest(`${proxy.host}/group/web`, 'v1'));
      expect(anonymous).toMatchObject({ code: 'registry_auth', retryable: false });
      expect(anonymous.message).toMatch(new RegExp(`^token service 127\\.0\\.0\\.1:\\d+ of registry ${proxy.host} refused an anonymous token for repository:group/web:pull \\(HTTP 401\\)`));
      const wrong = await hoistFailure(createRegistryClient({ registries: { [proxy.host]: { username: 'hoist', password: 'nope-nope' } } }).resolveDigest(`${proxy.host}/group/web`, 'v1'));
      expect(wrong.message).toMatch(new RegExp(`refused the credentials of registries\\["${proxy.host.replace(/\./g, '\\.')}"\\] \\(HTTP 401\\)$`));
      expect(wrong.message).not.toContain('nope-nope');
      expect(wrong).toBeInstanceOf(HoistError);
    });
  });
});
