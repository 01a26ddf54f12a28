import { Hono, type Context } from 'hono';
import { z } from 'zod';
import { HoistError } from '../errors.js';
import type { RepoReader } from '../domain/ports.js';
import { MAX_USER_NAME_LENGTH } from '../domain/names.js';
import type { App, Environment } from '../domain/types.js';
import { listEnvironments } from '../service/environments.js';
import type { Actor, PromotionService } from '../service/promotion-service.js';
import { bearerToken, secretMatcher } from './auth.js';
import { nameField, promotionIdOf, queryOf, tagField } from './fields.js';
import { jsonBody } from './json-body.js';
import type { HttpEnv } from './types.js';

export interface ApiDeps {
  token: string;
  service: PromotionService;
  reader: RepoReader;
  environments: readonly Environment[];
  apps: readonly App[];
}

// `env` is the API's word for an environment; `to` is its older name, still taken.
const promotionBody = z
  .object({
    app: nameField('app').optional(),
    apps: z.array(nameField('app')).min(1).optional(),
    env: nameField('environment').optional(),
    to: nameField('environment').optional(),
    tag: tagField.optional(),
  })
  .strict()
  .superRefine((b, ctx) => {
    if ((b.app === undefined) === (b.apps === undefined)) ctx.addIssue({ code: 'custom', message: 'give either "app" or "apps"' });
    if (b.env === undefined && b.to === undefined) ctx.addIssue({ code: 'custom', path: ['env'], message: 'required: the environment to promote to' });
    if (b.env !== undefined && b.to !== undefined) ctx.addIssue({ code: 'custom', path: ['env'], message: 'give "env" or "to" (the same field), not both' });
  });

const rollbackBody = z.object({ app: nameField('app'), env: nameField('environment'), tag: tagField.optional() }).strict();

const pendingQuery = z.object({ env: nameField('environment').optional() });
const historyQuery = z.object({ app: nameField('app').optional(), env: nameField('environment').optional() });

/** Trusted front ends say who is acting; the name is what rbac and approvals use. */
function actor(c: Context): Actor {
  const name = c.req.header('x-hoist-user')?.trim();
  if (!name) throw new HoistError('bad_request', 'X-Hoist-User is required: who is asking?');
  if (name.length > MAX_USER_NAME_LENGTH) throw new HoistError('bad_request', `X-Hoist-User: at most ${MAX_USER_NAME_LENGTH} characters`);
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
    .get('/promotions', async (c) => c.json({ promotions: await deps.service.listPending(queryOf(c, pendingQuery).env) }))
    .get('/promotions/:id', async (c) => c.json(await deps.service.get(promotionIdOf(c.req.param('id')))))
    .post('/promotions', async (c) => {
      const who = actor(c);
      const body = await jsonBody(c, promotionBody);
      const apps = body.apps ?? [body.app as string];
      const to = (body.env ?? body.to) as string;
      return c.json(await deps.service.requestPromotion({ apps, to, ...(body.tag ? { tag: body.tag } : {}) }, who), 202);
    })
    .post('/promotions/:id/approve', async (c) => c.json(await deps.service.approve(promotionIdOf(c.req.param('id')), actor(c))))
    .post('/promotions/:id/cancel', async (c) => c.json(await deps.service.cancel(promotionIdOf(c.req.param('id')), actor(c))))
    .post('/rollbacks', async (c) => {
      const who = actor(c);
      const body = await jsonBody(c, rollbackBody);
      return c.json(await deps.service.rollback({ app: body.app, env: body.env, ...(body.tag ? { tag: body.tag } : {}) }, who), 202);
    })
    .get('/history', async (c) => {
      const { app, env } = queryOf(c, historyQuery);
      return c.json({ entries: await deps.service.history({ ...(app ? { app } : {}), ...(env ? { env } : {}) }) });
    })
    .get('/environments', async (c) => c.json(await listEnvironments(deps.reader, deps.environments, deps.apps)));
}
