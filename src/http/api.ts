import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { RepoReader } from '../domain/ports.js';
import type { App, Environment, PromotionState } from '../domain/types.js';
import { HoistError } from '../errors.js';
import { listEnvironments } from '../service/environments.js';
import type { DoraAnswer, DoraQuery as DoraQueryInput } from '../service/dora.js';
import type { OverviewService } from '../service/overview.js';
import type { PromotionService } from '../service/promotion-service.js';
import type { ApiTokenService } from '../service/api-tokens.js';
import { isEventId, type EventLog } from '../store/events.js';
import { createEventStreams } from './event-stream.js';
import { callerOf } from './identity.js';
import { issuesText } from './json-body.js';
import {
  commonErrors,
  CreatedTokenSchema,
  DoraQuery,
  DoraSchema,
  EnvironmentsSchema,
  errorResponse,
  HistoryQuery,
  HistorySchema,
  MeSchema,
  OverviewSchema,
  PreviewQuery,
  PreviewSchema,
  PromotionListQuery,
  PromotionListSchema,
  PromotionRequestSchema,
  PromotionSchema,
  promotionIdParam,
  RollbackRequestSchema,
  RolloutActionRequestSchema,
  StatusQuery,
  TokenIdParam,
  TokenListSchema,
  TokenRequestSchema,
} from './schemas.js';
import type { HttpEnv } from './types.js';

export interface ApiDeps {
  service: PromotionService;
  overview: OverviewService;
  tokens: ApiTokenService;
  events: EventLog;
  reader: RepoReader;
  environments: readonly Environment[];
  apps: readonly App[];
  /** DORA figures from Hoist's records (GET /api/dora). */
  dora: { figures(query: DoraQueryInput): Promise<DoraAnswer> };
  /** A heartbeat on idle event streams (proxies close silent connections). */
  heartbeatMs?: number;
}

/** Every /api route takes a token (Authorization: Bearer) or the board's session cookie (with X-CSRF-Token to act). */
const security: Array<Record<string, string[]>> = [{ bearer: [] }, { session: [] }];

const json = <T extends z.ZodTypeAny>(schema: T, description: string) => ({ content: { 'application/json': { schema } }, description });
const body = <T extends z.ZodTypeAny>(schema: T) => ({ body: { content: { 'application/json': { schema } }, required: true } });
const given = (value: string | undefined) => (value === undefined || value === '' ? undefined : value);

const routes = {
  listPromotions: createRoute({
    method: 'get',
    path: '/promotions',
    summary: 'Recent promotions, newest first, filtered by state, app and environment',
    tags: ['promotions'],
    security,
    request: { query: PromotionListQuery },
    responses: { 200: json(PromotionListSchema, 'The promotions'), ...commonErrors },
  }),
  getPromotion: createRoute({
    method: 'get',
    path: '/promotions/{id}',
    summary: 'One promotion: state, gates, approvals, commit, reason',
    tags: ['promotions'],
    security,
    request: { params: promotionIdParam },
    responses: { 200: json(PromotionSchema, 'The promotion'), 404: errorResponse('No promotion with that id'), ...commonErrors },
  }),
  requestPromotion: createRoute({
    method: 'post',
    path: '/promotions',
    summary: 'Ask for a promotion (one app, or a release train of several)',
    tags: ['promotions'],
    security,
    request: body(PromotionRequestSchema),
    responses: {
      202: json(PromotionSchema, 'Stored and on its way: waiting for gates or approvals, or queued'),
      409: errorResponse('The environment already runs that'),
      ...commonErrors,
    },
  }),
  approve: createRoute({
    method: 'post',
    path: '/promotions/{id}/approve',
    summary: 'Approve a promotion that awaits approvals',
    tags: ['promotions'],
    security,
    request: { params: promotionIdParam },
    responses: { 200: json(PromotionSchema, 'The promotion after the approval'), 404: errorResponse('No such promotion'), 409: errorResponse('Not awaiting approval, or already approved by you'), ...commonErrors },
  }),
  cancel: createRoute({
    method: 'post',
    path: '/promotions/{id}/cancel',
    summary: 'Cancel a promotion that has not landed yet',
    tags: ['promotions'],
    security,
    request: { params: promotionIdParam },
    responses: { 200: json(PromotionSchema, 'The cancelled promotion'), 404: errorResponse('No such promotion'), 409: errorResponse('Already ended or being written'), ...commonErrors },
  }),
  rollout: createRoute({
    method: 'post',
    path: '/promotions/{id}/rollout',
    summary: "Drive the promotion's Argo Rollouts Rollout: resume, promote-full or abort (an abort then rolls back with a new commit)",
    description:
      "Runs Argo CD's built-in Rollout action (POST /api/v1/applications/{name}/resource/actions) on the Rollout that runs this promotion's version. The same rbac as promoting to its environment; resume and promote-full also take an approver where the environment needs approvals.",
    tags: ['promotions'],
    security,
    request: { params: promotionIdParam, ...body(RolloutActionRequestSchema) },
    responses: {
      202: json(PromotionSchema, 'Argo CD accepted the action; the promotion with its Rollout as the action left it'),
      404: errorResponse('No such promotion'),
      409: errorResponse('Not a committed version, a newer one landed, no Rollout runs it, the action does not apply now, or Argo CD refused it'),
      ...commonErrors,
    },
  }),
  rollback: createRoute({
    method: 'post',
    path: '/rollbacks',
    summary: "Go back to the previous tag (or a named one from the environment's signed history), as a new commit",
    tags: ['promotions'],
    security,
    request: body(RollbackRequestSchema),
    responses: { 202: json(PromotionSchema, 'The rollback promotion, queued'), 409: errorResponse('Nothing earlier to roll back to, or it already runs that'), ...commonErrors },
  }),
  preview: createRoute({
    method: 'get',
    path: '/diff',
    summary: 'What promoting would change: the tags, the refusal it would get, and the rendered manifest diff',
    tags: ['promotions'],
    security,
    request: { query: PreviewQuery },
    responses: { 200: json(PreviewSchema, 'The preview (nothing is written)'), ...commonErrors },
  }),
  history: createRoute({
    method: 'get',
    path: '/history',
    summary: "Hoist's promotions from its signed commits, and outside changes, newest first",
    tags: ['history'],
    security,
    request: { query: HistoryQuery },
    responses: { 200: json(HistorySchema, 'The history'), ...commonErrors },
  }),
  environments: createRoute({
    method: 'get',
    path: '/environments',
    summary: 'Each environment with the image every app runs there, at the GitOps branch head',
    tags: ['environments'],
    security,
    responses: { 200: json(EnvironmentsSchema, 'The environments'), ...commonErrors },
  }),
  status: createRoute({
    method: 'get',
    path: '/status',
    summary: 'Every app in every environment (since when, by whom, deploy health) and what is pending',
    tags: ['environments'],
    security,
    request: { query: StatusQuery },
    responses: { 200: json(OverviewSchema, 'The overview'), ...commonErrors },
  }),
  events: createRoute({
    method: 'get',
    path: '/events',
    summary: 'Live changes as Server-Sent Events (promotion, health, rollout); resumes after Last-Event-ID',
    tags: ['events'],
    security,
    request: {
      headers: z.object({ 'last-event-id': z.string().max(41).optional().openapi({ description: 'The id of the last event seen: the stream resumes after it' }) }),
      query: z.object({
        summary: z.enum(['true', 'false']).optional().openapi({ description: 'true: at most one `event: changed` per 50 ms (the newest id, how many changes and of which kinds) instead of every event; what the board uses' }),
      }),
    },
    responses: {
      200: {
        content: { 'text/event-stream': { schema: z.string().openapi({ example: 'id: 1764666000000-0\nevent: promotion\ndata: {"id":"p-…","state":"committed","app":"web","env":"dev","tag":"4f2a9c1e"}\n\n' }) } },
        description: 'One `event: promotion|health|rollout` per change (with `summary=true`: one `event: changed` per burst), `event: reset` when the resume point is no longer kept (reload)',
      },
      ...commonErrors,
    },
  }),
  dora: createRoute({
    method: 'get',
    path: '/dora',
    summary: 'DORA figures (deployment frequency, lead time, change failure rate, time to restore) with the counts behind them',
    tags: ['environments'],
    security,
    request: { query: DoraQuery },
    responses: { 200: json(DoraSchema, 'The four figures over the window'), ...commonErrors },
  }),
  me: createRoute({
    method: 'get',
    path: '/me',
    summary: 'Who the credentials belong to',
    tags: ['identity'],
    security,
    responses: { 200: json(MeSchema, 'The caller'), ...commonErrors },
  }),
  createToken: createRoute({
    method: 'post',
    path: '/tokens',
    summary: 'Create a personal API token (shown once); for people signed in on the board',
    tags: ['identity'],
    security: [{ session: [] }, { bearer: [] }] as Array<Record<string, string[]>>,
    request: body(TokenRequestSchema),
    responses: { 201: json(CreatedTokenSchema, 'The token: keep it, it is not shown again'), ...commonErrors },
  }),
  listTokens: createRoute({
    method: 'get',
    path: '/tokens',
    summary: "The caller's personal API tokens (never the tokens themselves)",
    tags: ['identity'],
    security,
    responses: { 200: json(TokenListSchema, 'The tokens'), ...commonErrors },
  }),
  revokeToken: createRoute({
    method: 'delete',
    path: '/tokens/{id}',
    summary: 'Revoke one of your personal API tokens: it stops working at once',
    tags: ['identity'],
    security,
    request: { params: TokenIdParam },
    responses: { 204: { description: 'Revoked' }, 404: errorResponse('You have no token with that id'), ...commonErrors },
  }),
};

export const API_ROUTES = routes;

const tokenView = (t: { id: string; name: string; createdAt: string; expiresAt?: string | undefined }) => ({ id: t.id, name: t.name, createdAt: t.createdAt, ...(t.expiresAt ? { expiresAt: t.expiresAt } : {}) });

export function api(deps: ApiDeps) {
  const streams = createEventStreams(deps.events, { heartbeatMs: deps.heartbeatMs ?? 15_000 });
  const app = new OpenAPIHono<HttpEnv>({
    // Validation problems are 400s in Hoist's one error shape, each naming its field.
    defaultHook: (result) => {
      if (!result.success) throw new HoistError('bad_request', issuesText(result.error));
    },
  });
  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', {
    type: 'http',
    scheme: 'bearer',
    description: 'A personal API token (made on the board\'s /tokens page, or POST /api/tokens), or api.token (the robot user `api`)',
  });
  app.openAPIRegistry.registerComponent('securitySchemes', 'session', {
    type: 'apiKey',
    in: 'cookie',
    name: 'hoist_session',
    description: 'The board\'s session; requests that change something also carry the session\'s CSRF token in X-CSRF-Token',
  });

  // Authentication before validation: an anonymous caller learns nothing about what a valid request looks like.
  app.use('*', async (c, next) => {
    callerOf(c);
    await next();
  });

  app.openapi(routes.listPromotions, async (c) => {
    callerOf(c);
    const q = c.req.valid('query');
    const states = given(q.state)?.split(',').map((s) => s.trim() as PromotionState);
    const promotions = await deps.service.list({ ...(states ? { states } : {}), ...(given(q.app) ? { app: q.app } : {}), ...(given(q.env) ? { env: q.env } : {}), limit: given(q.limit) ? Number(q.limit) : 50 });
    return c.json({ promotions }, 200);
  });
  app.openapi(routes.getPromotion, async (c) => {
    callerOf(c);
    return c.json(await deps.service.get(c.req.valid('param').id), 200);
  });
  app.openapi(routes.requestPromotion, async (c) => {
    const { actor } = callerOf(c);
    const b = c.req.valid('json');
    const apps = b.apps ?? [b.app as string];
    return c.json(await deps.service.requestPromotion({ apps, to: (b.env ?? b.to) as string, ...(b.tag ? { tag: b.tag } : {}) }, actor), 202);
  });
  app.openapi(routes.approve, async (c) => c.json(await deps.service.approve(c.req.valid('param').id, callerOf(c).actor), 200));
  app.openapi(routes.cancel, async (c) => c.json(await deps.service.cancel(c.req.valid('param').id, callerOf(c).actor), 200));
  app.openapi(routes.rollout, async (c) => {
    const { actor } = callerOf(c);
    if (!deps.service.rollout) throw new HoistError('conflict', 'Argo CD is not configured (argocd): Hoist drives Rollouts through its API');
    const b = c.req.valid('json');
    return c.json(await deps.service.rollout({ id: c.req.valid('param').id, app: b.app }, b.action, actor), 202);
  });
  app.openapi(routes.rollback, async (c) => {
    const { actor } = callerOf(c);
    const b = c.req.valid('json');
    return c.json(await deps.service.rollback({ app: b.app, env: b.env, ...(b.tag ? { tag: b.tag } : {}) }, actor), 202);
  });
  app.openapi(routes.preview, async (c) => {
    const { actor } = callerOf(c);
    const q = c.req.valid('query');
    const apps = [...new Set(q.app.split(',').map((a) => a.trim()).filter(Boolean))];
    return c.json(await deps.service.preview({ apps, to: q.env, ...(q.tag ? { tag: q.tag } : {}) }, actor), 200);
  });
  app.openapi(routes.history, async (c) => {
    callerOf(c);
    const q = c.req.valid('query');
    return c.json({ entries: await deps.service.history({ ...(given(q.app) ? { app: q.app } : {}), ...(given(q.env) ? { env: q.env } : {}) }) }, 200);
  });
  app.openapi(routes.environments, async (c) => {
    callerOf(c);
    return c.json(await listEnvironments(deps.reader, deps.environments, deps.apps), 200);
  });
  app.openapi(routes.status, async (c) => {
    callerOf(c);
    const appName = given(c.req.valid('query').app);
    if (appName !== undefined && !deps.apps.some((a) => a.name === appName)) throw new HoistError('bad_request', `unknown app "${appName}" (known: ${deps.apps.map((a) => a.name).join(', ')})`);
    return c.json(await deps.overview.read({ fresh: true, ...(appName ? { app: appName } : {}) }), 200);
  });
  app.openapi(routes.events, async (c) => {
    callerOf(c);
    const lastId = c.req.valid('header')['last-event-id'];
    if (lastId !== undefined && !isEventId(lastId)) throw new HoistError('bad_request', 'Last-Event-ID: not an id this stream sent');
    return streams.serve(c, lastId, { summary: c.req.valid('query').summary === 'true' }) as unknown as never;
  });
  app.openapi(routes.dora, async (c) => {
    callerOf(c);
    const q = c.req.valid('query');
    const time = (value: string | undefined) => (given(value) ? new Date(value as string) : undefined);
    return c.json(await deps.dora.figures({ env: given(q.env), app: given(q.app), since: time(q.since), until: time(q.until) }), 200);
  });
  app.openapi(routes.me, async (c) => {
    const caller = callerOf(c);
    const via = caller.kind;
    return c.json({ user: caller.actor.name, groups: [...(caller.actor.groups ?? [])], via, ...(caller.kind === 'session' ? { csrf: caller.session.csrf } : {}) }, 200);
  });
  app.openapi(routes.createToken, async (c) => {
    const { token, info } = await deps.tokens.create(callerOf(c), c.req.valid('json'));
    return c.json({ token, ...tokenView(info) }, 201);
  });
  app.openapi(routes.listTokens, async (c) => c.json({ tokens: (await deps.tokens.list(callerOf(c))).map(tokenView) }, 200));
  app.openapi(routes.revokeToken, async (c) => {
    await deps.tokens.revoke(callerOf(c), c.req.valid('param').id);
    return c.body(null, 204);
  });
  return app;
}
