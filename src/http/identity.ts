import type { Context, MiddlewareHandler } from 'hono';
import { deleteCookie, getSignedCookie, setSignedCookie } from 'hono/cookie';
import type { Caller, Identity } from '../auth/identity.js';
import { HoistError } from '../errors.js';
import { bearerToken } from './auth.js';
import type { HttpEnv } from './types.js';

export const SESSION_COOKIE = 'hoist_session';
export const CSRF_HEADER = 'x-csrf-token';
export const CSRF_FIELD = '_csrf';

export interface SessionCookies {
  /** Signs the cookie (auth.sessionSecret). */
  secret: string;
  /** Secure when people reach Hoist over https (auth.publicUrl). */
  secure: boolean;
}

export async function setSessionCookie(c: Context, cookies: SessionCookies, id: string, expiresAt: Date): Promise<void> {
  await setSignedCookie(c, SESSION_COOKIE, id, cookies.secret, { httpOnly: true, sameSite: 'Lax', secure: cookies.secure, path: '/', expires: expiresAt });
}

export function clearSessionCookie(c: Context, cookies: SessionCookies): void {
  deleteCookie(c, SESSION_COOKIE, { path: '/', secure: cookies.secure, httpOnly: true, sameSite: 'Lax' });
}

/** Sets `caller` from the bearer token or the session cookie; nothing when neither is there. */
export function identify(identity: Identity, cookies: SessionCookies | undefined): MiddlewareHandler<HttpEnv> {
  return async (c, next) => {
    const signed = cookies ? await getSignedCookie(c, cookies.secret, SESSION_COOKIE) : undefined;
    const caller = await identity.callerOf({
      bearer: bearerToken(c.req.header('authorization')),
      sessionId: typeof signed === 'string' ? signed : undefined,
      userHeader: c.req.header('x-hoist-user'),
    });
    c.set('caller', caller);
    await next();
  };
}

/** The caller, or 401 with how to authenticate. */
export function callerOf(c: Context<HttpEnv>): Caller {
  const caller = c.get('caller');
  if (caller) return caller;
  c.header('WWW-Authenticate', 'Bearer realm="hoist"');
  throw new HoistError('unauthorized', 'missing or wrong bearer token: send Authorization: Bearer <a personal API token or api.token>, or sign in on the board');
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** A request that changes something on a session (the board) must carry the session's CSRF token (403 otherwise). */
export function csrf(identity: Identity): MiddlewareHandler<HttpEnv> {
  return async (c, next) => {
    const caller = c.get('caller');
    if (caller?.kind === 'session' && !SAFE_METHODS.has(c.req.method)) {
      let given = c.req.header(CSRF_HEADER);
      if (given === undefined && /^application\/x-www-form-urlencoded|^multipart\/form-data/i.test(c.req.header('content-type') ?? '')) {
        const field = (await c.req.parseBody())[CSRF_FIELD];
        if (typeof field === 'string') given = field;
      }
      identity.checkCsrf(caller, given);
    }
    await next();
  };
}
