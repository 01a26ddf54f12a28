import { Hono, type Context } from 'hono';
import { z } from 'zod';
import { HoistError } from '../errors.js';
import type { RepoReader } from '../domain/ports.js';
import type { App, Environment } from '../domain/types.js';
import { listEnvironments } from '../service/environments.js';
import type { Actor, PromotionService } from '../service/promotion-service.js';
import { bearerToken, secretMatcher } from './auth.js';
import { jsonBody } from './json-body.js';
import type { HttpEnv } from './types.js';

export interface ApiDeps {
  token: string;
  service: PromotionService;
  reader: RepoReader;
  environments: readonly Environment[];
  apps: readonly App[];
}

const promotionBody = z
  .object({
    app: z.string().min(1).optional(),
    apps: z.array(z.string().min(1)).min(1).optional(),
    to: z.string().min(1),
    tag: z.string().min(1).optional(),
  })
  .strict()
  .refine((b) => (b.app === undefined) !== (b.apps === undefined), { message: 'give either "app" or "apps"' });

const rollbackBody = z.object({ app: z.string().min(1), env: z.string().min(1), tag: z.string().min(1).optional() }).strict();

/** Trusted front ends say who is acting; the name is what rbac and approvals use. */
function actor(c: Context): Actor {
  const name = c.req.header('x-hoist-user')?.trim();
  if (!name) throw new HoistError('bad_request', 'X-Hoist-User is required: who is asking?');
  if (!/^[A-Za-z0-9._@-]{1,100}$/.test(name)) throw new HoistError('bad_request', 'X-Hoist-User must be a plain user name');
  return { name, via: 'api' };
}

export function api(deps: ApiDeps) {
  const tokenMatches = secretMatcher(deps.token);
  return new Hono<HttpEnv>()
    .use(async (c, next) => {
      if (!tokenMatches(bearerToken(c.req.header('authorization')))) {
        c.header('WWW-Authenticate', 'Bearer realm="hoist"');
        throw new HoistError('unauthorized', 'missing or wrong bearer token (Authorization: Bearer <api.token>)');
      }
      await next();
    })
    .get('/promotions', async (c) => c.json({ promotions: await deps.service.listPending(c.req.query('env') || undefined) }))
    .get('/promotions/:id', async (c) => c.json(await deps.service.get(c.req.param('id'))))
    .post('/promotions', async (c) => {
      const who = actor(c);
      const body = await jsonBody(c, promotionBody);
      const apps = body.apps ?? [body.app as string];
      return c.json(await deps.service.requestPromotion({ apps, to: body.to, ...(body.tag ? { tag: body.tag } : {}) }, who), 202);
    })
    .post('/promotions/:id/approve', async (c) => c.json(await deps.service.approve(c.req.param('id'), actor(c))))
    .post('/promotions/:id/cancel', async (c) => c.json(await deps.service.cancel(c.req.param('id'), actor(c))))
    .post('/rollbacks', async (c) => {
      const who = actor(c);
      const body = await jsonBody(c, rollbackBody);
      return c.json(await deps.service.rollback({ app: body.app, env: body.env, ...(body.tag ? { tag: body.tag } : {}) }, who), 202);
    })
    .get('/history', async (c) => {
      const app = c.req.query('app') || undefined;
      const env = c.req.query('env') || undefined;
      return c.json({ entries: await deps.service.history({ ...(app ? { app } : {}), ...(env ? { env } : {}) }) });
    })
    .get('/environments', async (c) => c.json(await listEnvironments(deps.reader, deps.environments, deps.apps)));
}
