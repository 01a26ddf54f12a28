import { HoistError } from '../errors.js';
import type { ApiTokenInfo, ApiTokenStore } from '../store/api-tokens.js';
import type { Actor } from './promotion-service.js';

/** Who asks: a person signed in (a board session, or one of their own tokens), or the robot behind api.token. */
export interface TokenOwner {
  kind: 'session' | 'token' | 'robot';
  actor: Actor;
}

/** Personal API tokens, for people only: what the CLI and scripts act as. The board and the API both come here. */
export interface ApiTokenService {
  create(owner: TokenOwner, input: { name: string; expiresInDays?: number | undefined }): Promise<{ token: string; info: ApiTokenInfo }>;
  list(owner: TokenOwner): Promise<ApiTokenInfo[]>;
  revoke(owner: TokenOwner, id: string): Promise<void>;
}

export function createApiTokenService(store: ApiTokenStore, now: () => Date = () => new Date()): ApiTokenService {
  const person = (owner: TokenOwner): Actor => {
    // The robot user behind api.token is no person, and neither is whoever a trusted front end names in X-Hoist-User
    // with it: only a sign-in (or a token it made) owns tokens, whichever route asks.
    if (owner.kind === 'robot') throw new HoistError('forbidden', 'personal API tokens are for people: sign in on the board (the api.token robot has none)');
    return owner.actor;
  };
  return {
    async create(owner, input) {
      const who = person(owner);
      const name = input.name.trim();
      if (name === '' || name.length > 100) throw new HoistError('bad_request', 'name: 1 to 100 characters');
      if (input.expiresInDays !== undefined && (!Number.isInteger(input.expiresInDays) || input.expiresInDays < 1 || input.expiresInDays > 3650)) {
        throw new HoistError('bad_request', 'expiresInDays: a whole number of days from 1 to 3650');
      }
      const expiresAt = input.expiresInDays ? new Date(now().getTime() + input.expiresInDays * 86_400_000) : undefined;
      return store.create({ user: who.name, groups: who.groups ?? [], name, expiresAt });
    },
    async list(owner) {
      return store.list(person(owner).name);
    },
    async revoke(owner, id) {
      if (!(await store.revoke(person(owner).name, id))) throw new HoistError('not_found', 'you have no token with that id');
    },
  };
}
