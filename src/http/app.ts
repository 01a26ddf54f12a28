import { Hono } from 'hono';
import { requestId } from 'hono/request-id';
import type { Logger } from 'pino';
import { type ApiDeps, api } from './api.js';
import { bodyLimit, KIB, MIB } from './body-limit.js';
import { type ChatopsDeps, chatops } from './chatops.js';
import { createErrorHandler } from './errors.js';
import { health, type ReadinessDeps } from './health.js';
import type { HttpEnv } from './types.js';
import { type ArgoCdWebhookDeps, argocdWebhook } from './webhooks/argocd.js';
import { type DeploymentsWebhookDeps, deploymentsWebhook } from './webhooks/deployments.js';
import { type GitlabWebhookDeps, gitlabWebhook } from './webhooks/gitlab.js';

export interface AppDeps {
  logger: Logger;
  /** Prometheus text for GET /metrics. */
  metrics: () => Promise<{ contentType: string; body: string }>;
  routes: 'all' | 'health';
  gitlab: GitlabWebhookDeps;
  api: ApiDeps;
  chatops: ChatopsDeps;
  deployments: DeploymentsWebhookDeps;
  argocd: ArgoCdWebhookDeps;
  readiness: ReadinessDeps;
}

export function createHttpApp(deps: AppDeps) {
  const app = new Hono<HttpEnv>();
  app.use(requestId({ headerName: 'X-Request-Id' }));
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
    app.route('/webhooks/gitlab', gitlabWebhook(deps.gitlab));
    app.route('/webhooks/deployments', deploymentsWebhook(deps.deployments));
    app.route('/webhooks/argocd', argocdWebhook(deps.argocd));
    app.route('/api', api(deps.api));
    app.route('/chatops', chatops(deps.chatops));
  }
  app.notFound((c) => c.json({ error: `no route for ${c.req.method} ${c.req.path}`, code: 'not_found' }, 404));
  app.onError(createErrorHandler(deps.logger));
  return app;
}
