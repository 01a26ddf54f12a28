import { Hono, type Context } from 'hono';
import { deleteCookie, getSignedCookie, setSignedCookie } from 'hono/cookie';
import type { Logger } from 'pino';
import type { OidcClient, PendingLogin } from '../auth/oidc.js';
import { isUserName, MAX_USER_NAME_LENGTH } from '../domain/names.js';
import { HoistError } from '../errors.js';
import type { SessionStore } from '../store/sessions.js';
import { callerOf, clearSessionCookie, setSessionCookie, type SessionCookies } from './identity.js';
import type { HttpEnv } from './types.js';

export interface SignInDeps {
  oidc?: OidcClient | undefined;
  /** The built-in demo's "sign in as anyone" (loopback only, checked by the config). */
  demo: boolean;
  sessions: SessionStore;
  cookies: SessionCookies;
  sessionTtlMs: number;
  /** Where people reach Hoist: the provider's redirect comes back to publicUrl + /auth/callback. */
  publicUrl?: string | undefined;
  logger: Logger;
}

const LOGIN_COOKIE = 'hoist_signin';
const LOGIN_TTL_MS = 10 * 60_000;

/** Only a path on this site: `return=//evil.example` or a full URL would make sign-in an open redirect. */
export function safeReturn(value: string | undefined): string {
  return value !== undefined && /^\/(?![/\\])[\x21-\x7e]*$/.test(value) && value.length <= 2_000 ? value : '/';
}

/** A form post that came from this site: the browser's Origin (or Referer) names it. */
function sameOrigin(c: Context, publicUrl: string | undefined): boolean {
  const origin = c.req.header('origin') ?? (c.req.header('referer') ? new URL(c.req.header('referer') as string).origin : undefined);
  if (origin === undefined) return false;
  const own = new Set([new URL(c.req.url).origin, ...(publicUrl ? [new URL(publicUrl).origin] : [])]);
  return own.has(origin);
}

/**
 * `/auth/login`, `/auth/callback`, `/auth/logout`, and the demo's `/auth/demo`. A sign-in is bound to the browser
 * that started it (a signed cookie holding its state) and completes once.
 */
export function signIn(deps: SignInDeps) {
  const { sessions, cookies } = deps;
  const startSession = async (c: Context<HttpEnv>, user: string, groups: string[], via: 'oidc' | 'demo', returnTo: string) => {
    const { id, session } = await sessions.create({ user, groups, via }, deps.sessionTtlMs);
    await setSessionCookie(c, cookies, id, new Date(session.expiresAt));
    deps.logger.info({ user, groups: groups.length, via }, 'signed in');
    return c.redirect(returnTo, 303);
  };
  return new Hono<HttpEnv>()
    .get('/login', async (c) => {
      const returnTo = safeReturn(c.req.query('return'));
      if (deps.demo) return c.redirect(`/signin?return=${encodeURIComponent(returnTo)}`, 302);
      if (!deps.oidc) throw new HoistError('not_found', 'sign-in is not configured: set auth.oidc (or auth.demo for the built-in demo) in the config');
      const { url, pending } = await deps.oidc.start();
      await sessions.savePending(pending.state, JSON.stringify({ ...pending, returnTo }), LOGIN_TTL_MS);
      await setSignedCookie(c, LOGIN_COOKIE, pending.state, cookies.secret, { httpOnly: true, sameSite: 'Lax', secure: cookies.secure, path: '/auth', maxAge: LOGIN_TTL_MS / 1000 });
      return c.redirect(url, 302);
    })
    .get('/callback', async (c) => {
      if (!deps.oidc) throw new HoistError('not_found', 'sign-in is not configured');
      const state = c.req.query('state') ?? '';
      const bound = await getSignedCookie(c, cookies.secret, LOGIN_COOKIE);
      deleteCookie(c, LOGIN_COOKIE, { path: '/auth' });
      if (typeof bound !== 'string' || bound !== state) throw new HoistError('unauthorized', 'this sign-in was not started in this browser (or took longer than 10 minutes): sign in again');
      const raw = await sessions.takePending(state);
      if (!raw) throw new HoistError('unauthorized', 'this sign-in has already been used or has expired: sign in again');
      const pending = JSON.parse(raw) as PendingLogin & { returnTo: string };
      const error = c.req.query('error');
      if (error) throw new HoistError('unauthorized', `the identity provider refused the sign-in: ${error}${c.req.query('error_description') ? ` (${c.req.query('error_description')})` : ''}`);
      // The provider redirected to publicUrl; behind a proxy the request's own URL may say another host.
      const current = new URL(new URL(c.req.url).pathname + new URL(c.req.url).search, deps.publicUrl ?? c.req.url);
      const { user, groups } = await deps.oidc.finish(current, pending);
      return startSession(c, user, groups, 'oidc', safeReturn(pending.returnTo));
    })
    .post('/demo', async (c) => {
      if (!deps.demo) throw new HoistError('not_found', 'demo sign-in is off (auth.demo)');
      // No session yet, so no CSRF token: the browser's Origin says the form is ours.
      if (!sameOrigin(c, deps.publicUrl)) throw new HoistError('forbidden', 'sign-in form posted from another site');
      const form = await c.req.parseBody();
      const name = typeof form.name === 'string' ? form.name.trim() : '';
      if (!isUserName(name)) {
        throw new HoistError('bad_request', `name: letters, digits, ".", "_", "@" and "-", at most ${MAX_USER_NAME_LENGTH} characters`);
      }
      return startSession(c, name, [], 'demo', safeReturn(typeof form.return === 'string' ? form.return : undefined));
    })
    .post('/logout', async (c) => {
      const caller = callerOf(c);
      if (caller.kind === 'session') await sessions.destroy(caller.sessionId);
      clearSessionCookie(c, cookies);
      return c.redirect('/', 303);
    });
}
