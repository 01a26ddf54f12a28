import { OpenAPIHono } from '@hono/zod-openapi';
import type { Hono, MiddlewareHandler } from 'hono';
import { requestId } from 'hono/request-id';
import type { Logger } from 'pino';
import type { Identity } from '../auth/identity.js';
import { type ApiDeps, api } from './api.js';
import { bodyLimit, KIB, MIB } from './body-limit.js';
import { type ChatopsDeps, chatops } from './chatops.js';
import { createErrorHandler } from './errors.js';
import { health, type ReadinessDeps } from './health.js';
import { csrf, identify, type SessionCookies } from './identity.js';
import { docs, documentOtherRoutes } from './openapi.js';
import { signIn, type SignInDeps } from './sign-in.js';
import type { HttpEnv } from './types.js';
import { type ArgoCdWebhookDeps, argocdWebhook } from './webhooks/argocd.js';
import { type DeploymentsWebhookDeps, deploymentsWebhook } from './webhooks/deployments.js';
import { type GitlabWebhookDeps, gitlabWebhook } from './webhooks/gitlab.js';

/** The board (src/web): its pages and form posts, and the paths they live under, for identity and CSRF. */
export interface BoardMount {
  routes: Hono<HttpEnv>;
  /** Path patterns of its routes (`/`, `/history`, `/board/*`…): identified and CSRF-checked like /api. */
  paths: readonly string[];
  /** Adds its pages to the OpenAPI document. */
  document?: (registry: OpenAPIHono<HttpEnv>['openAPIRegistry']) => void;
}

export interface AppDeps {
  logger: Logger;
  /** Prometheus text for GET /metrics. */
  metrics: () => Promise<{ contentType: string; body: string }>;
  routes: 'all' | 'health';
  gitlab: GitlabWebhookDeps;
  identity: Identity;
  /** Session cookies, when people can sign in (auth.oidc or auth.demo). */
  cookies?: SessionCookies | undefined;
  signIn: Omit<SignInDeps, 'cookies'>;
  api: ApiDeps;
  board?: (identity: { cookies: SessionCookies | undefined }) => BoardMount;
  chatops: ChatopsDeps;
  deployments: DeploymentsWebhookDeps;
  argocd: ArgoCdWebhookDeps;
  readiness: ReadinessDeps;
  /**
   * Runs before a 202 leaves: 202 says "stored", and on a replicated Redis (Cluster, Sentinel) that means on a
   * replica too. Rejects with `unavailable` (503, resend) when no replica confirms.
   */
  acceptance?: (() => Promise<void>) | undefined;
}

export const OPENAPI_INFO: Parameters<OpenAPIHono['getOpenAPI31Document']>[0] = {
  openapi: '3.1.0',
  info: {
    title: 'Hoist',
    version: '0.1.0',
    description:
      'Webhook-driven GitOps promotion for GitLab and Argo CD. /api takes a personal API token (Authorization: Bearer, made on the board\'s /tokens page), api.token (the robot user `api`), or the board\'s session. Every error is `{error, code, details?}`.',
  },
  servers: [{ url: '/' }],
};

export function createHttpApp(deps: AppDeps) {
  const app = new OpenAPIHono<HttpEnv>();
  app.use(requestId({ headerName: 'X-Request-Id' }));
  const acceptance = deps.acceptance;
  if (acceptance) {
    // Every route that accepts work answers 202; held here, no route can forget it. A rejection becomes onError's 503.
    app.use(async (c, next) => {
      await next();
      if (c.res.status === 202) await acceptance();
    });
  }
  app.route('/', health(deps.readiness));
  app.get('/metrics', async (c) => {
    const { contentType, body } = await deps.metrics();
    return c.body(body, 200, { 'Content-Type': contentType });
  });
  if (deps.routes === 'all') {
    // One body limit per route group, mounted before the group so a route added under it later inherits it.
    // GitLab sends whole pipelines with their variables; Argo CD templates may embed the Application.
    app.use('/webhooks/gitlab/*', bodyLimit({ maxBytes: MIB, what: 'webhook body', onRefused: () => deps.gitlab.onOutcome?.('rejected') }));
    app.use('/webhooks/deployments/*', bodyLimit({ maxBytes: 256 * KIB, what: 'deployment report' }));
    app.use('/webhooks/argocd/*', bodyLimit({ maxBytes: 256 * KIB, what: 'Argo CD notification' }));
    app.use('/api/*', bodyLimit({ maxBytes: 64 * KIB, what: 'API request body' }));
    app.use('/chatops/*', bodyLimit({ maxBytes: 64 * KIB, what: 'chat request body' }));
    app.use('/auth/*', bodyLimit({ maxBytes: 16 * KIB, what: 'sign-in form' }));
    app.route('/webhooks/gitlab', gitlabWebhook(deps.gitlab));
    app.route('/webhooks/deployments', deploymentsWebhook(deps.deployments));
    app.route('/webhooks/argocd', argocdWebhook(deps.argocd));
    app.route('/chatops', chatops(deps.chatops));

    // Who is calling, then the CSRF check for what a session changes: the API, sign-out and the board alike.
    const who: MiddlewareHandler<HttpEnv>[] = [identify(deps.identity, deps.cookies), csrf(deps.identity)];
    const board = deps.board?.({ cookies: deps.cookies });
    // The limit before the CSRF check: that check may read a form body, and must read a bounded one.
    for (const path of board?.paths ?? []) app.use(path, bodyLimit({ maxBytes: 64 * KIB, what: 'board request body' }));
    for (const path of ['/api/*', '/auth/logout', ...(board?.paths ?? [])]) app.use(path, ...who);
    app.route('/api', docs(() => app.getOpenAPI31Document(OPENAPI_INFO)));
    app.route('/api', api(deps.api));
    // Without auth configured the routes still answer, each saying that sign-in is not configured.
    app.route('/auth', signIn({ ...deps.signIn, cookies: deps.cookies ?? { secret: 'sign-in is off', secure: false } }));
    if (board) {
      app.route('/', board.routes);
      board.document?.(app.openAPIRegistry);
    }
    documentOtherRoutes(app.openAPIRegistry);
  }
  app.notFound((c) => c.json({ error: `no route for ${c.req.method} ${c.req.path}`, code: 'not_found' }, 404));
  app.onError(createErrorHandler(deps.logger));
  return app;
}
