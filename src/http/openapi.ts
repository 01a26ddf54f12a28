import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { z, type OpenAPIHono } from '@hono/zod-openapi';
import { Hono } from 'hono';
import { ErrorSchema, errorResponse } from './schemas.js';
import type { HttpEnv } from './types.js';

type Registry = OpenAPIHono<HttpEnv>['openAPIRegistry'];

const form = (description: string) => ({ content: { 'application/x-www-form-urlencoded': { schema: z.record(z.string(), z.string()) } }, description });
const anyJson = (description: string) => ({ content: { 'application/json': { schema: z.record(z.string(), z.unknown()) } }, description });
const html = (description: string) => ({ content: { 'text/html': { schema: z.string() } }, description });

/**
 * The routes outside /api: webhooks, chat, sign-in, probes. Their bodies are read by their own checks (a signature
 * over raw bytes, a form), so they are described here rather than validated by a route schema; the contract test
 * holds this list to the routes the app really has.
 */
export function documentOtherRoutes(registry: Registry): void {
  registry.registerComponent('securitySchemes', 'gitlabToken', { type: 'apiKey', in: 'header', name: 'X-Gitlab-Token', description: "The webhook's Secret token (gitlab.webhookSecret); signed webhooks send webhook-id/-timestamp/-signature instead" });
  registry.registerComponent('securitySchemes', 'deploymentsToken', { type: 'http', scheme: 'bearer', description: 'deployments.token' });
  registry.registerComponent('securitySchemes', 'argocdToken', { type: 'http', scheme: 'bearer', description: 'argocd.webhookToken' });
  registry.registerComponent('securitySchemes', 'slackSignature', { type: 'apiKey', in: 'header', name: 'X-Slack-Signature', description: 'v0 HMAC-SHA256 of "v0:{X-Slack-Request-Timestamp}:{body}" with chatops.slack.signingSecret; each signature is taken once' });
  registry.registerComponent('securitySchemes', 'mattermostToken', { type: 'apiKey', in: 'header', name: 'Authorization', description: '`Token <chatops.mattermost.token>` (or the `token` form field)' });
  const errors = { 400: errorResponse('Malformed'), 401: errorResponse('Wrong or missing token/signature'), 413: errorResponse('Body over the limit'), 503: errorResponse('Redis unreachable: may or may not have been stored; resend with the same Idempotency-Key') };
  registry.registerPath({
    method: 'post',
    path: '/webhooks/gitlab',
    summary: 'GitLab Pipeline Hook, Merge Request Hook of the GitOps project, and Note Hook (`/hoist …` in comments on merge requests and commits)',
    tags: ['webhooks'],
    security: [{ gitlabToken: [] }],
    request: {
      body: {
        content: {
          'application/json': {
            schema: z.record(z.string(), z.unknown()).openapi({
              description:
                "GitLab's Pipeline Hook, Merge Request Hook or Note Hook payload (X-Gitlab-Event says which). A Note Hook runs a comment starting with `/hoist ` as its GitLab user; the answer comes as a reply comment (needs gitlab.url and gitlab.token)",
            }),
          },
        },
      },
    },
    responses: {
      202: anyJson('`{promotions: [{id, app, env, tag}], ignored?}`: the jobs are stored; for a Note Hook `{note, command, promotions}`: the command ran, its answer is being posted'),
      200: anyJson('`{ignored: reason}`: promotes nothing (for a Note Hook: not a `/hoist` command, Hoist\'s own comment, a note already taken, …)'),
      415: errorResponse('Not application/json'),
      ...errors,
    },
  });
  registry.registerPath({
    method: 'post',
    path: '/webhooks/deployments',
    summary: 'A deploy report: {env, app, tag, status: deployed|degraded} (`environment` is the older name of `env`)',
    tags: ['webhooks'],
    security: [{ deploymentsToken: [] }],
    request: { body: { content: { 'application/json': { schema: z.object({ env: z.string(), environment: z.string().optional(), app: z.string(), tag: z.string(), status: z.enum(['deployed', 'degraded']) }) } } } },
    responses: { 202: anyJson('`{recorded}`'), 404: errorResponse('deployments.token is not set'), ...errors },
  });
  registry.registerPath({
    method: 'post',
    path: '/webhooks/argocd',
    summary: 'Argo CD notifications (on-deployed, on-health-degraded, on-sync-failed)',
    tags: ['webhooks'],
    security: [{ argocdToken: [] }],
    request: { body: { content: { 'application/json': { schema: z.record(z.string(), z.unknown()) } } } },
    responses: { 202: anyJson('`{application, trigger?, observed}`'), 200: anyJson('`{ignored}`: no environment is served by that Application'), 404: errorResponse('argocd.webhookToken is not set'), ...errors },
  });
  for (const [path, security, summary] of [
    ['/chatops/slack', 'slackSignature', 'Slack slash command `/hoist …` and the Approve button (interactivity)'],
    ['/chatops/mattermost', 'mattermostToken', 'Mattermost slash command `/hoist …`'],
  ] as const) {
    registry.registerPath({
      method: 'post',
      path,
      summary,
      tags: ['chat'],
      security: [{ [security]: [] }],
      request: { body: { content: { 'application/x-www-form-urlencoded': { schema: z.record(z.string(), z.string()) } } } },
      responses: { 200: anyJson('`{response_type, text}`: the answer shown in chat'), 404: errorResponse('That platform is not configured'), ...errors },
    });
  }
  registry.registerPath({ method: 'get', path: '/healthz', summary: 'The process is up', tags: ['probes'], responses: { 200: anyJson('`{status: ok}`') } });
  registry.registerPath({
    method: 'get',
    path: '/readyz',
    summary: 'Redis answers and the GitOps remote is reachable; warnings do not make it unready',
    tags: ['probes'],
    responses: { 200: anyJson('`{status: ready, checks, warnings?}`'), 503: anyJson('`{status: not ready, checks}` with the reason per check') },
  });
  registry.registerPath({ method: 'get', path: '/metrics', summary: 'Prometheus metrics', tags: ['probes'], responses: { 200: { content: { 'text/plain': { schema: z.string() } }, description: 'Prometheus text format' } } });
  registry.registerPath({
    method: 'get',
    path: '/auth/login',
    summary: 'Sign in: a redirect to the OpenID provider (PKCE, state, nonce), or the demo sign-in page',
    tags: ['sign-in'],
    request: { query: z.object({ return: z.string().optional().openapi({ description: 'A path on this site to come back to' }) }) },
    responses: { 302: { description: 'To the provider' }, 404: errorResponse('Sign-in is not configured') },
  });
  registry.registerPath({
    method: 'get',
    path: '/auth/callback',
    summary: "The provider's redirect back: checks the answer, starts the session (cookie hoist_session)",
    tags: ['sign-in'],
    request: { query: z.object({ code: z.string().optional(), state: z.string().optional(), error: z.string().optional() }) },
    responses: { 303: { description: 'Signed in: back to where the sign-in started' }, 401: errorResponse('The sign-in failed or was not started in this browser') },
  });
  registry.registerPath({ method: 'post', path: '/auth/logout', summary: 'Sign out (the board\'s "Sign out" button; carries the CSRF token)', tags: ['sign-in'], security: [{ session: [] }], request: { body: form('`_csrf`') }, responses: { 303: { description: 'Signed out' }, 403: errorResponse('No CSRF token') } });
  registry.registerPath({
    method: 'post',
    path: '/auth/demo',
    summary: 'The built-in demo: sign in as any name (auth.demo, loopback only)',
    tags: ['sign-in'],
    request: { body: form('`name`, `return`') },
    responses: { 303: { description: 'Signed in' }, 403: errorResponse('Posted from another site'), 404: errorResponse('Demo sign-in is off') },
  });
  registry.registerPath({ method: 'get', path: '/api/openapi.json', summary: 'This document', tags: ['docs'], responses: { 200: anyJson('OpenAPI 3.1') } });
  registry.registerPath({ method: 'get', path: '/api/docs', summary: 'This document, rendered (Swagger UI, served by Hoist)', tags: ['docs'], responses: { 200: html('The reference') } });
  registry.registerPath({ method: 'get', path: '/api/docs/{file}', summary: "The reference UI's own files", tags: ['docs'], request: { params: z.object({ file: z.string() }) }, responses: { 200: { description: 'A script or stylesheet' }, 404: errorResponse('No such file') } });
  registry.register('Error', ErrorSchema);
}

/** Documents a board page (HTML for browsers; the board is a room of its own, src/web). */
export function documentPage(registry: Registry, method: 'get' | 'post', path: string, summary: string): void {
  registry.registerPath({ method, path, summary, tags: ['board'], responses: { 200: html('The page'), 303: { description: 'Done: back to the page' } } });
}

const swaggerDir = () => dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
const DOCS_FILES: Readonly<Record<string, string>> = { 'swagger-ui.css': 'text/css; charset=utf-8', 'swagger-ui-bundle.js': 'text/javascript; charset=utf-8', 'init.js': 'text/javascript; charset=utf-8' };
const INIT = `window.addEventListener('load', function () {
  window.SwaggerUIBundle({ url: '/api/openapi.json', dom_id: '#reference', deepLinking: true });
});
`;
const PAGE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Hoist API</title>
<link rel="stylesheet" href="/api/docs/swagger-ui.css"></head>
<body><div id="reference"></div><script src="/api/docs/swagger-ui-bundle.js"></script><script src="/api/docs/init.js"></script></body>
</html>
`;

/** `/api/openapi.json` and `/api/docs`: the document and a reference UI served from the package, no CDN. */
export function docs(document: () => unknown): Hono<HttpEnv> {
  // Swagger UI styles its widgets inline: allowed for styles on this page only, never for scripts.
  const csp = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'";
  let cached: unknown;
  return new Hono<HttpEnv>()
    .get('/openapi.json', (c) => c.json((cached ??= document())))
    .get('/docs', (c) => c.html(PAGE, 200, { 'Content-Security-Policy': csp }))
    .get('/docs/:file', async (c) => {
      const file = c.req.param('file');
      const type = Object.hasOwn(DOCS_FILES, file) ? DOCS_FILES[file] : undefined;
      if (!type) return c.json({ error: `no file ${file}`, code: 'not_found' }, 404);
      const content = file === 'init.js' ? INIT : await readFile(join(swaggerDir(), file));
      return c.body(content, 200, { 'Content-Type': type, 'Cache-Control': 'public, max-age=3600' });
    });
}
