/**
 * Who is calling: a person signed in on the board (session), a person's API token (the CLI), or the robot user
 * `api` (the configured api.token; with `api.trustUserHeader`, the person a trusted front end names in
 * X-Hoist-User). Plain inputs in, a caller or a refusal out: the HTTP layer reads the headers and cookies.
 */
import { secretMatcher } from './secret-matcher.js';
import { isUserName, MAX_USER_NAME_LENGTH } from '../domain/names.js';
import { HoistError } from '../errors.js';
import type { Actor } from '../service/promotion-service.js';
import type { ApiTokenInfo, ApiTokenStore } from '../store/api-tokens.js';
import type { Session, SessionStore } from '../store/sessions.js';

export type Caller =
  | { kind: 'session'; actor: Actor; session: Session; sessionId: string }
  | { kind: 'token'; actor: Actor; token: ApiTokenInfo }
  | { kind: 'robot'; actor: Actor };

export interface CallerInput {
  /** The bearer token of `Authorization`, if any. */
  bearer?: string | undefined;
  /** The session id from the verified `hoist_session` cookie, if any. */
  sessionId?: string | undefined;
  /** `X-Hoist-User`, if sent. */
  userHeader?: string | undefined;
}

export interface IdentityDeps {
  apiToken: string;
  trustUserHeader: boolean;
  sessions: SessionStore;
  tokens: ApiTokenStore;
}

/** The robot user the configured api.token acts as. */
export const ROBOT_USER = 'api';

export function createIdentity(deps: IdentityDeps) {
  const isApiToken = secretMatcher(deps.apiToken);
  return {
    /**
     * The caller, or undefined when nothing identifies one. A bearer token that is neither api.token nor a live
     * personal token is refused (401) rather than ignored: a script with a revoked token must hear so.
     */
    async callerOf(input: CallerInput): Promise<Caller | undefined> {
      if (input.bearer !== undefined) {
        if (isApiToken(input.bearer)) {
          const header = input.userHeader?.trim();
          // X-Hoist-User speaks for a person only behind a front end that authenticates people (api.trustUserHeader).
          if (!deps.trustUserHeader || !header) return { kind: 'robot', actor: { name: ROBOT_USER, via: 'api' } };
          if (header.length > MAX_USER_NAME_LENGTH) throw new HoistError('bad_request', `X-Hoist-User: at most ${MAX_USER_NAME_LENGTH} characters`);
          if (!isUserName(header)) throw new HoistError('bad_request', 'X-Hoist-User must be a plain user name');
          return { kind: 'robot', actor: { name: header, via: 'api' } };
        }
        const token = await deps.tokens.resolve(input.bearer);
        if (!token) throw new HoistError('unauthorized', 'this bearer token is not api.token and not a live personal API token (revoked, expired or mistyped)');
        return { kind: 'token', actor: { name: token.user, groups: token.groups, via: 'api' }, token };
      }
      if (input.sessionId !== undefined) {
        const session = await deps.sessions.get(input.sessionId);
        if (session) return { kind: 'session', actor: { name: session.user, groups: session.groups, via: 'board' }, session, sessionId: input.sessionId };
      }
      return undefined;
    },
    /** Board requests that change something carry the session's CSRF token; anything else is a forged request. */
    checkCsrf(caller: Caller, given: string | undefined): void {
      if (caller.kind !== 'session') return;
      if (!secretMatcher(caller.session.csrf)(given)) {
        throw new HoistError('forbidden', 'missing or wrong CSRF token: reload the page and try again');
      }
    },
  };
}

export type Identity = ReturnType<typeof createIdentity>;
