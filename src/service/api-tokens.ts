import { HoistError } from '../errors.js';
import type { ApiTokenInfo, ApiTokenStore } from '../store/api-tokens.js';
import type { Actor } from './promotion-service.js';

/** Personal API tokens, for people only: what the CLI and scripts act as. The board and the API both come here. */
export interface ApiTokenService {
  create(owner: Actor, input: { name: string; expiresInDays?: number | undefined }): Promise<{ token: string; info: ApiTokenInfo }>;
  list(owner: Actor): Promise<ApiTokenInfo[]>;
  revoke(owner: Actor, id: string): Promise<void>;
}

export function createApiTokenService(store: ApiTokenStore, now: () => Date = () => new Date()): ApiTokenService {
  const person = (actor: Actor) => {
    // The robot user behind api.token is no person; a trusted front end's X-Hoist-User is not a sign-in either.
    if (actor.via !== 'board' && actor.via !== 'api') throw new HoistError('forbidden', 'personal API tokens are made on the board');
    return actor;
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
