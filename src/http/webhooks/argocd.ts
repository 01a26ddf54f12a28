import { Hono } from 'hono';
import type { Logger } from 'pino';
import type { ApplicationState } from '../../argocd/client.js';
import { toApplicationNotice } from '../../argocd/notifications.js';
import { HoistError } from '../../errors.js';
import { bearerToken, secretMatcher } from '../auth.js';
import type { HttpEnv } from '../types.js';

export interface ArgoCdWebhookDeps {
  /** argocd.webhookToken; the route answers 404 while it is not set. */
  token: string | undefined;
  logger: Logger;
  notice(state: ApplicationState): Promise<Array<{ env: string; app: string; tag?: string; verdict: string }>>;
}

/**
 * Argo CD notifications (`on-deployed`, `on-health-degraded`, `on-sync-failed`, see
 * gitops-manifests/argocd/notifications-cm.yaml) so gates and rollbacks react without polling.
 */
export function argocdWebhook(deps: ArgoCdWebhookDeps) {
  const tokenMatches = deps.token === undefined ? undefined : secretMatcher(deps.token);
  // The body limit is the route group's (src/http/app.ts).
  return new Hono<HttpEnv>().post(
    '/',
    async (c) => {
      if (tokenMatches === undefined) throw new HoistError('not_found', 'Argo CD notifications are off: set argocd.webhookToken in the config');
      if (!tokenMatches(bearerToken(c.req.header('authorization')))) {
        throw new HoistError('unauthorized', 'missing or wrong bearer token (Authorization: Bearer <argocd.webhookToken>)');
      }
      const text = await c.req.text();
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch (error) {
        throw new HoistError('bad_request', `body is not valid JSON: ${(error as Error).message}`);
      }
      const notice = toApplicationNotice(body);
      const observed = await deps.notice(notice.state);
      deps.logger.info({ requestId: c.get('requestId'), application: notice.state.name, trigger: notice.trigger, observed }, 'Argo CD notification');
      if (observed.length === 0) {
        return c.json({ ignored: `no environment of Hoist's is served by the Application "${notice.state.name}" (argocd.applications)` }, 200);
      }
      return c.json({ application: notice.state.name, ...(notice.trigger ? { trigger: notice.trigger } : {}), observed }, 202);
    },
  );
}
