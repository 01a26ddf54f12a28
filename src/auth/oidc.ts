/**
 * Sign-in with OpenID Connect through openid-client (discovery, PKCE, state, nonce, ID token validation): nothing
 * about tokens is checked by hand here. GitLab is the expected provider; any issuer works.
 */
import * as client from 'openid-client';
import { isUserName } from '../domain/names.js';
import { HoistError } from '../errors.js';

export interface OidcSettings {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** publicUrl + /auth/callback: what the provider sends people back to. */
  redirectUri: string;
  scopes: readonly string[];
  usernameClaim: string;
  groupsClaim: string;
  /** http:// issuers are accepted on loopback addresses only (checked by the config): tests and local trials. */
  allowHttp: boolean;
}

/** What a login carries between the redirect to the provider and its way back. */
export interface PendingLogin {
  state: string;
  nonce: string;
  codeVerifier: string;
}

export interface OidcClient {
  /** Where to send the browser, and what to keep until it comes back. */
  start(): Promise<{ url: string; pending: PendingLogin }>;
  /** Checks the provider's answer (`callbackUrl` is the full URL it redirected to) and says who signed in. */
  finish(callbackUrl: URL, pending: PendingLogin): Promise<{ user: string; groups: string[] }>;
}

const stringsOf = (value: unknown): string[] | undefined => (Array.isArray(value) && value.every((v) => typeof v === 'string') ? (value as string[]) : undefined);

export function createOidcClient(settings: OidcSettings): OidcClient {
  let configuration: Promise<client.Configuration> | undefined;
  // Discovered on first use, so Hoist starts even while the provider is away; a failed discovery is retried.
  const config = () => {
    configuration ??= client
      .discovery(new URL(settings.issuer), settings.clientId, settings.clientSecret, undefined, settings.allowHttp ? { execute: [client.allowInsecureRequests] } : undefined)
      .catch((error: unknown) => {
        configuration = undefined;
        throw new HoistError('unavailable', `cannot reach the OpenID provider ${settings.issuer}: ${(error as Error).message}`, { cause: error });
      });
    return configuration;
  };
  return {
    async start() {
      const cfg = await config();
      const pending: PendingLogin = { state: client.randomState(), nonce: client.randomNonce(), codeVerifier: client.randomPKCECodeVerifier() };
      const url = client.buildAuthorizationUrl(cfg, {
        redirect_uri: settings.redirectUri,
        scope: settings.scopes.join(' '),
        response_type: 'code',
        code_challenge: await client.calculatePKCECodeChallenge(pending.codeVerifier),
        code_challenge_method: 'S256',
        state: pending.state,
        nonce: pending.nonce,
      });
      return { url: url.href, pending };
    },
    async finish(callbackUrl, pending) {
      const cfg = await config();
      let tokens: Awaited<ReturnType<typeof client.authorizationCodeGrant>>;
      try {
        tokens = await client.authorizationCodeGrant(cfg, callbackUrl, { pkceCodeVerifier: pending.codeVerifier, expectedState: pending.state, expectedNonce: pending.nonce, idTokenExpected: true });
      } catch (error) {
        throw new HoistError('unauthorized', `sign-in failed: ${(error as Error).message}`, { cause: error });
      }
      const claims = tokens.claims() as Record<string, unknown> | undefined;
      if (!claims) throw new HoistError('unauthorized', 'sign-in failed: the provider sent no ID token');
      let user = claims[settings.usernameClaim];
      let groups = stringsOf(claims[settings.groupsClaim]);
      // GitLab puts `groups` in the userinfo answer, not in the ID token: ask there for what the token lacks.
      if ((typeof user !== 'string' || groups === undefined) && typeof claims.sub === 'string') {
        const info = (await client.fetchUserInfo(cfg, tokens.access_token, claims.sub).catch(() => undefined)) as Record<string, unknown> | undefined;
        if (typeof user !== 'string') user = info?.[settings.usernameClaim];
        groups ??= stringsOf(info?.[settings.groupsClaim]);
      }
      if (typeof user !== 'string' || !isUserName(user)) {
        throw new HoistError('forbidden', `sign-in failed: the provider's "${settings.usernameClaim}" claim is not a user name Hoist can use`);
      }
      return { user, groups: (groups ?? []).filter((g) => g.length <= 255).slice(0, 500) };
    },
  };
}
