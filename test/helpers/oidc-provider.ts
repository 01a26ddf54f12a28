import type { Server } from 'node:http';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { Provider } from 'oidc-provider';
import { freePort } from './redis-server.js';

export interface TestOidcProvider {
  /** http://127.0.0.1:<port>: a loopback issuer, the one kind of http:// issuer Hoist accepts. */
  issuer: string;
  clientId: string;
  clientSecret: string;
  close(): Promise<void>;
}

/**
 * A real OpenID provider (panva's oidc-provider) on a free loopback port, with one confidential client whose
 * redirect URI is Hoist's callback. Its development login form takes any login and password; the login is the
 * account id, `preferred_username` is that login and `groups` comes from `groups` (GitLab's claims). Like
 * GitLab, it puts them in the userinfo answer rather than the ID token (conformIdTokenClaims), so Hoist's
 * userinfo path is the one exercised. Consent is granted at once: the browser test drives the login form only.
 */
export async function startOidcProvider(options: { redirectUri: string; groups?: Readonly<Record<string, readonly string[]>> }): Promise<TestOidcProvider> {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const clientId = 'hoist-test';
  const clientSecret = randomBytes(24).toString('hex');
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: [options.redirectUri],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        // openid-client sends a confidential client's secret in the form body.
        token_endpoint_auth_method: 'client_secret_post',
      },
    ],
    claims: { openid: ['sub'], profile: ['preferred_username', 'name', 'groups'], email: ['email'] },
    cookies: { keys: [randomBytes(16).toString('hex')] },
    features: { devInteractions: { enabled: true } },
    async findAccount(_ctx, id) {
      return {
        accountId: id,
        claims: async () => ({ sub: id, preferred_username: id, name: id, email: `${id}@example.invalid`, groups: [...(options.groups?.[id] ?? [])] }),
      };
    },
    async loadExistingGrant(ctx) {
      const { client, session, result, provider: self } = ctx.oidc;
      const existing = result?.consent?.grantId ?? session.grantIdFor(client.clientId);
      if (existing) return self.Grant.find(existing);
      const grant = new self.Grant({ clientId: client.clientId, accountId: session.accountId });
      grant.addOIDCScope('openid profile email');
      grant.addOIDCClaims(['preferred_username', 'groups']);
      await grant.save();
      return grant;
    },
  });
  // The provider's development warnings (dev keys, dev interactions) are expected here.
  provider.on('server_error', (_ctx, error) => process.stderr.write(`oidc-provider: ${(error as Error).message}\n`));
  const server: Server = provider.listen(port, '127.0.0.1');
  await once(server, 'listening');
  return {
    issuer,
    clientId,
    clientSecret,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
