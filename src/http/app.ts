import { Hono } from 'hono';
import { requestId } from 'hono/request-id';
import type { Logger } from 'pino';
import { type ApiDeps, api } from './api.js';
import { createErrorHandler } from './errors.js';
import { health, type ReadinessDeps } from './health.js';
import type { HttpEnv } from './types.js';
import { type DeploymentsWebhookDeps, deploymentsWebhook } from './webhooks/deployments.js';
import { type GitlabWebhookDeps, gitlabWebhook } from './webhooks/gitlab.js';

export interface AppDeps {
  logger: Logger;
  routes: 'all' | 'health';
  gitlab: GitlabWebhookDeps;
  api: ApiDeps;
  deployments: DeploymentsWebhookDeps;
  readiness: ReadinessDeps;
}

export function createHttpApp(deps: AppDeps) {
  const app = new Hono<HttpEnv>();
  app.use(requestId({ headerName: 'X-Request-Id' }));
  app.route('/', health(deps.readiness));
  if (deps.routes === 'all') {
    app.route('/webhooks/gitlab', gitlabWebhook(deps.gitlab));
    app.route('/webhooks/deployments', deploymentsWebhook(deps.deployments));
    app.route('/api', api(deps.api));
  }
  app.notFound((c) => c.json({ error: `no route for ${c.req.method} ${c.req.path}`, code: 'not_found' }, 404));
  app.onError(createErrorHandler(deps.logger));
  return app;
}
