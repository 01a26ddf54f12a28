import { Hono } from 'hono';
import type { App, Environment, Promotion } from '../domain/types.js';
import { HoistError } from '../errors.js';
import type { RepoReader } from '../domain/ports.js';
import { listEnvironments } from '../service/environments.js';
import type { PromotionStore } from '../store/promotion-store.js';
import { bearerToken, secretsEqual } from './auth.js';
import type { HttpEnv } from './types.js';

export interface ApiDeps {
  token: string;
  store: PromotionStore;
  reader: RepoReader;
  environments: readonly Environment[];
  apps: readonly App[];
}

function promotionView(p: Promotion) {
  return {
    id: p.id,
    app: p.app,
    env: p.env,
    tag: p.tag,
    state: p.state,
    ...(p.commit ? { commit: p.commit } : {}),
    ...(p.error ? { error: p.error } : {}),
    ...(p.reason ? { reason: p.reason } : {}),
    image: p.image,
    source: p.source,
    attempts: p.attempts,
    createdAt: p.createdAt,
    updatedAt: p.updatedAt,
  };
}

export function api(deps: ApiDeps) {
  return new Hono<HttpEnv>()
    .use(async (c, next) => {
      if (!secretsEqual(bearerToken(c.req.header('authorization')), deps.token)) {
        c.header('WWW-Authenticate', 'Bearer realm="hoist"');
        throw new HoistError('unauthorized', 'missing or wrong bearer token (Authorization: Bearer <api.token>)');
      }
      await next();
    })
    .get('/promotions/:id', async (c) => {
      const id = c.req.param('id');
      const promotion = /^[A-Za-z0-9_-]{1,100}$/.test(id) ? await deps.store.get(id) : undefined;
      if (!promotion) throw new HoistError('not_found', `no promotion with id "${id.slice(0, 100)}"`);
      return c.json(promotionView(promotion));
    })
    .get('/environments', async (c) => c.json(await listEnvironments(deps.reader, deps.environments, deps.apps)));
}
