import { Hono } from 'hono';
import { z } from 'zod';
import type { App, Environment } from '../../domain/types.js';
import { HoistError } from '../../errors.js';
import type { DeploymentReport } from '../../store/deployment-reports.js';
import { bearerToken, secretMatcher } from '../auth.js';
import { nameField, tagField } from '../fields.js';
import { jsonBody } from '../json-body.js';
import type { HttpEnv } from '../types.js';

export interface DeploymentsWebhookDeps {
  token: string | undefined;
  environments: readonly Environment[];
  apps: readonly App[];
  record(report: DeploymentReport): Promise<void>;
  /** Wakes the gates that wait on this environment. */
  reported(env: string, app: string): Promise<void>;
  /** A degraded report marks the promotion that landed the tag degraded (and may roll it back). */
  degraded?: (env: string, app: string, tag: string) => Promise<void>;
  now: () => Date;
}

// `env` is the API's word for an environment; `environment`, this webhook's first name for it, stays accepted.
const reportSchema = z
  .object({
    env: nameField('environment').optional(),
    environment: nameField('environment').optional(),
    app: nameField('app'),
    tag: tagField,
    status: z.enum(['deployed', 'degraded']),
  })
  .strict()
  .superRefine((r, ctx) => {
    if ((r.env === undefined) === (r.environment === undefined)) ctx.addIssue({ code: 'custom', path: ['env'], message: 'give "env" (or its older name "environment"), once' });
  })
  .transform(({ env, environment, ...rest }) => ({ environment: (env ?? environment) as string, ...rest }));

/**
 * Deploy reports feeding the `healthy` gate: `{environment, app, tag, status: deployed|degraded}` with a
 * bearer token, e.g. from an Argo CD notifications webhook template.
 */
export function deploymentsWebhook(deps: DeploymentsWebhookDeps) {
  const tokenMatches = deps.token === undefined ? undefined : secretMatcher(deps.token);
  // The body limit is the route group's (src/http/app.ts).
  return new Hono<HttpEnv>().post(
    '/',
    async (c) => {
      if (tokenMatches === undefined) throw new HoistError('not_found', 'deployment reports are off: set deployments.token in the config');
      if (!tokenMatches(bearerToken(c.req.header('authorization')))) {
        throw new HoistError('unauthorized', 'missing or wrong bearer token (Authorization: Bearer <deployments.token>)');
      }
      const report = await jsonBody(c, reportSchema, 'body must be JSON: {env, app, tag, status: deployed|degraded}');
      if (!deps.environments.some((e) => e.name === report.environment)) throw new HoistError('bad_request', `unknown environment "${report.environment}"`);
      if (!deps.apps.some((a) => a.name === report.app)) throw new HoistError('bad_request', `unknown app "${report.app}"`);
      await deps.record({ ...report, at: deps.now().toISOString() });
      if (report.status === 'degraded') await deps.degraded?.(report.environment, report.app, report.tag);
      await deps.reported(report.environment, report.app);
      return c.json({ recorded: report }, 202);
    },
  );
}
