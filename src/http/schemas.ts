/**
 * The API's requests and answers as zod schemas: the same ones validate requests, shape the OpenAPI document
 * (GET /api/openapi.json) and, in the contract test, check real answers. Named schemas become components.
 */
import { z } from '@hono/zod-openapi';
import { MAX_NAME_LENGTH, MAX_PROMOTION_ID_LENGTH, NAME_PATTERN } from '../domain/names.js';
import { ROLLOUT_ACTIONS } from '../domain/rollout.js';
import { nameField, tagField } from './fields.js';

export const ErrorSchema = z
  .object({
    error: z.string().openapi({ description: 'What went wrong, in words for a person', example: 'web:v9 has never been in staging; a promotion never skips the chain (promote it to staging first)' }),
    code: z.string().openapi({ description: 'Machine-readable: bad_request, unauthorized, forbidden, not_found, conflict, payload_too_large, unavailable, …', example: 'bad_request' }),
    details: z.record(z.string(), z.unknown()).optional(),
  })
  .openapi('Error');

export const errorResponse = (description: string) => ({ content: { 'application/json': { schema: ErrorSchema } }, description });

/** The error answers every authenticated API route may give. */
export const commonErrors = {
  400: errorResponse('The request is malformed: the message names the field'),
  401: errorResponse('No or a wrong token / session'),
  403: errorResponse('Not allowed (rbac, approvers, self-approval, CSRF)'),
  413: errorResponse('The body is over 64 KiB'),
  503: errorResponse('Redis or the GitOps remote cannot be reached; retry'),
} as const;

/** A query parameter naming an app or environment: an empty value counts as absent (`?env=`). */
const nameQuery = (what: 'app' | 'environment') =>
  z
    .string()
    .superRefine((value, ctx) => {
      if (value === '') return;
      const checked = nameField(what).safeParse(value);
      for (const issue of checked.success ? [] : checked.error.issues) ctx.addIssue({ code: 'custom', message: issue.message });
    })
    .optional()
    .openapi({ description: `An ${what === 'app' ? 'app' : 'environment'} name`, pattern: NAME_PATTERN.source, maxLength: MAX_NAME_LENGTH, example: what === 'app' ? 'web' : 'prod' });

export const promotionIdParam = z.object({
  id: z.string().max(MAX_PROMOTION_ID_LENGTH, { message: `at most ${MAX_PROMOTION_ID_LENGTH} characters`, abort: true }).openapi({ param: { name: 'id', in: 'path' }, example: 'p-3b0c1d2e3f4a5b6c7d8e9f00' }),
});

export const PROMOTION_STATES = ['waiting', 'awaiting-approval', 'queued', 'running', 'awaiting-merge', 'committed', 'degraded', 'skipped', 'failed', 'cancelled', 'superseded'] as const;
const KINDS = ['pipeline', 'manual', 'gated', 'rollback'] as const;

export const GateSchema = z.object({ gate: z.enum(['soak', 'healthy', 'window', 'freeze']), status: z.enum(['passed', 'waiting']), reason: z.string() }).openapi('Gate');

export const RolloutSchema = z
  .object({
    strategy: z.enum(['canary', 'blueGreen']),
    name: z.string().openapi({ description: "The Rollout's name in the cluster" }),
    step: z.number().int().optional().openapi({ description: 'Canary: the current step, counted from 1' }),
    steps: z.number().int().optional(),
    weight: z.number().optional().openapi({ description: 'Canary: the weight of the current step (the traffic weight when the Rollout reports one), in percent' }),
    previewReady: z.boolean().optional().openapi({ description: 'Blue-green: the new version is up behind the preview Service and waits for promotion' }),
    paused: z.boolean(),
    pauseReason: z.string().optional().openapi({ description: "Argo Rollouts' reason: CanaryPauseStep, BlueGreenPause, AnalysisRunInconclusive, …" }),
    phase: z.string().openapi({ description: "Argo Rollouts' phase: Healthy, Progressing, Paused or Degraded" }),
    message: z.string().optional(),
  })
  .openapi('Rollout', {
    description: 'The Argo Rollouts Rollout running this version, as Hoist last read it through Argo CD',
    example: { strategy: 'canary', name: 'web', step: 2, steps: 5, weight: 20, paused: true, pauseReason: 'CanaryPauseStep', phase: 'Paused', message: 'CanaryPauseStep' },
  });

export const RolloutActionRequestSchema = z
  .object({
    action: z.enum(ROLLOUT_ACTIONS).openapi({ description: "Argo CD's built-in Rollout action; abort is followed by a rollback commit" }),
    app: nameField('app').optional().openapi({ description: "A release train: whose Rollout (default: the promotion's first app)" }),
  })
  .strict()
  .openapi('RolloutActionRequest', { example: { action: 'resume' } });

export const PromotionSchema = z
  .object({
    id: z.string(),
    app: z.string().openapi({ description: 'The first app (a release train lists every app in `apps`)' }),
    env: z.string(),
    tag: z.string(),
    apps: z.array(z.object({ app: z.string(), tag: z.string() })),
    state: z.enum(PROMOTION_STATES),
    kind: z.enum(KINDS),
    commit: z.string().optional(),
    error: z.string().optional(),
    reason: z.string().optional(),
    requestedBy: z.string().optional(),
    image: z.string(),
    attempts: z.number().int(),
    source: z.object({ kind: z.string(), url: z.string().optional(), pipelineId: z.number().optional(), project: z.string().optional() }).optional(),
    gates: z.array(GateSchema).optional(),
    approvals: z.object({ required: z.number().int(), given: z.array(z.object({ by: z.string(), at: z.string() })), missing: z.number().int() }).optional(),
    mergeRequest: z.object({ iid: z.number().int(), url: z.string(), branch: z.string() }).optional(),
    health: z.enum(['healthy', 'degraded']).optional(),
    rolledBackBy: z.string().optional(),
    commits: z.array(z.object({ repo: z.string(), branch: z.string(), commit: z.string() })).optional().openapi({ description: 'A release train that spans repositories: one commit per repository' }),
    digests: z
      .record(z.string(), z.string())
      .optional()
      .openapi({ description: 'Per app, the manifest digest the tag resolved to (pin: digest, verifyTag) or carried from the `from` environment', example: { web: 'sha256:6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b' } }),
    rollout: RolloutSchema.optional(),
    watchUntil: z.string().optional().openapi({ description: 'After it turned healthy, Hoist reads Argo CD until then for a late Degraded (environment `watch`)' }),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('Promotion', {
    example: {
      id: 'p-3b0c1d2e3f4a5b6c7d8e9f00',
      app: 'web',
      env: 'prod',
      tag: '4f2a9c1e',
      apps: [{ app: 'web', tag: '4f2a9c1e' }],
      state: 'awaiting-approval',
      kind: 'manual',
      requestedBy: 'alice',
      image: 'registry.example.com/group/web',
      attempts: 0,
      approvals: { required: 2, given: [{ by: 'bob', at: '2026-12-02T09:01:00.000Z' }], missing: 1 },
      createdAt: '2026-12-02T09:00:00.000Z',
      updatedAt: '2026-12-02T09:01:00.000Z',
    },
  });

export const PromotionListSchema = z.object({ promotions: z.array(PromotionSchema) }).openapi('PromotionList');

export const PromotionListQuery = z.object({
  state: z
    .string()
    .max(300, { message: 'at most 300 characters', abort: true })
    .refine((s) => s === '' || s.split(',').every((x) => (PROMOTION_STATES as readonly string[]).includes(x.trim())), `each of a comma-separated list: ${PROMOTION_STATES.join(', ')}`)
    .optional()
    .openapi({ description: 'Comma-separated states, e.g. waiting,awaiting-approval; default: every state', example: 'failed' }),
  app: nameQuery('app'),
  env: nameQuery('environment'),
  limit: z
    .string()
    .regex(/^$|^\d{1,4}$/, 'a number from 1 to 500')
    .refine((s) => s === '' || (Number(s) >= 1 && Number(s) <= 500), 'a number from 1 to 500')
    .optional()
    .openapi({ description: 'At most this many, newest first (default 50, at most 500)', example: '20' }),
});

// `env` is the API's word for an environment; `to` is its older name, still taken.
export const PromotionRequestSchema = z
  .object({
    app: nameField('app').optional(),
    apps: z.array(nameField('app')).min(1).max(100).optional().openapi({ description: 'A release train: these apps land in one commit, or not at all' }),
    env: nameField('environment').optional(),
    to: nameField('environment').optional().openapi({ description: 'The older name of `env`', deprecated: true }),
    tag: tagField.optional().openapi({ description: 'Default: what the `from` environment runs now' }),
  })
  .strict()
  .superRefine((b, ctx) => {
    if ((b.app === undefined) === (b.apps === undefined)) ctx.addIssue({ code: 'custom', message: 'give either "app" or "apps"' });
    if (b.env === undefined && b.to === undefined) ctx.addIssue({ code: 'custom', path: ['env'], message: 'required: the environment to promote to' });
    if (b.env !== undefined && b.to !== undefined) ctx.addIssue({ code: 'custom', path: ['env'], message: 'give "env" or "to" (the same field), not both' });
  })
  .openapi('PromotionRequest', { example: { app: 'web', env: 'prod' } });

export const RollbackRequestSchema = z
  .object({ app: nameField('app'), env: nameField('environment'), tag: tagField.optional().openapi({ description: 'Default: the previous tag of the environment' }) })
  .strict()
  .openapi('RollbackRequest', { example: { app: 'web', env: 'prod' } });

export const HistoryQuery = z.object({ app: nameQuery('app'), env: nameQuery('environment') });

const LandedEntrySchema = z.object({
  commit: z.string(),
  repo: z.string().optional(),
  date: z.string(),
  app: z.string(),
  env: z.string(),
  tag: z.string(),
  promotion: z.string(),
  kind: z.enum(KINDS),
  source: z.string(),
  requestedBy: z.string().optional(),
  approvedBy: z.array(z.string()),
  digest: z.string().optional().openapi({ description: 'The manifest digest it landed with (the Hoist-Digest trailer), when it resolved one' }),
});
const OutsideEntrySchema = z.object({
  commit: z.string(),
  repo: z.string().optional(),
  date: z.string(),
  kind: z.literal('outside'),
  env: z.string(),
  author: z.string().openapi({ description: "The commit's own author line: whatever its maker wrote" }),
  subject: z.string(),
  paths: z.array(z.string()),
  app: z.string().optional(),
  image: z.string().optional(),
  tag: z.string().nullable().optional(),
  previousTag: z.string().nullable().optional(),
  digest: z.string().optional(),
});
export const HistorySchema = z
  .object({ entries: z.array(z.union([LandedEntrySchema.openapi('LandedEntry'), OutsideEntrySchema.openapi('OutsideEntry')])) })
  .openapi('History', { description: "Newest first: Hoist's promotions from its signed commits, and outside changes (commits Hoist did not sign), which never grant anything" });

export const EnvironmentsSchema = z
  .object({
    commit: z.string(),
    environments: z.array(
      z.object({
        name: z.string(),
        path: z.string(),
        repo: z.string(),
        branch: z.string(),
        promotion: z.enum(['auto', 'gated', 'manual']),
        from: z.string().nullable(),
        error: z.string().optional(),
        apps: z.array(z.object({ app: z.string(), image: z.string(), tag: z.string().nullable(), digest: z.string().nullable(), newName: z.string().optional(), repo: z.string().optional() })),
      }),
    ),
  })
  .openapi('Environments');

const CellSchema = z.object({
  env: z.string(),
  app: z.string(),
  tag: z.string().nullable(),
  digest: z.string().nullable(),
  since: z.string().optional(),
  by: z.string().optional(),
  kind: z.enum([...KINDS, 'outside']).optional(),
  promotion: z.string().optional(),
  health: z.object({ status: z.enum(['deployed', 'degraded']), at: z.string() }).optional(),
  fromTag: z.string().nullable().optional(),
  differs: z.boolean(),
  rollout: RolloutSchema.optional(),
});
export const OverviewSchema = z
  .object({
    commit: z.string(),
    environments: z.array(z.object({ name: z.string(), from: z.string().nullable(), promotion: z.enum(['auto', 'gated', 'manual']), path: z.string(), error: z.string().optional() })),
    apps: z.array(z.object({ name: z.string(), image: z.string() })),
    cells: z.array(CellSchema.openapi('Cell')),
    pending: z.array(PromotionSchema),
  })
  .openapi('Overview', { description: 'Every app in every environment (what runs, since when, who put it there, its last deploy verdict) and what is waiting' });

export const StatusQuery = z.object({ app: nameQuery('app') });

export const PreviewQuery = z.object({
  app: z.string().max(2_000, { message: 'at most 2000 characters', abort: true }).openapi({ description: 'An app, or several separated by commas (a release train)', example: 'web' }),
  env: nameField('environment'),
  tag: tagField.optional(),
});
export const PreviewSchema = z
  .object({
    env: z.string(),
    from: z.string().nullable(),
    policy: z.enum(['auto', 'gated', 'manual']),
    apps: z.array(z.object({ app: z.string(), tag: z.string().nullable(), current: z.string().nullable() })),
    allowed: z.boolean(),
    refusal: z.object({ code: z.string(), error: z.string() }).optional(),
    files: z.array(z.string()),
    diff: z.string().openapi({ description: '`kustomize build` before → after (unified diff); Secret values are replaced by keyed hashes' }),
    note: z.string().optional(),
  })
  .openapi('Preview');

/** An ISO 8601 time (`2026-03-01` or `2026-03-01T09:00:00Z`); an empty value counts as absent. */
const timeQuery = (description: string) =>
  z
    .string()
    .max(64, { message: 'at most 64 characters', abort: true })
    .refine((s) => s === '' || (/^\d{4}-\d{2}-\d{2}/.test(s) && Number.isFinite(Date.parse(s))), 'an ISO 8601 date or time, e.g. 2026-03-01 or 2026-03-01T09:00:00Z')
    .optional()
    .openapi({ description, example: '2026-03-01T00:00:00Z' });

export const DoraQuery = z.object({
  env: nameQuery('environment'),
  app: nameQuery('app'),
  since: timeQuery('Start of the window (inclusive); default: 30 days before `until`'),
  until: timeQuery('End of the window (exclusive); default: now'),
});

const seconds = z.number().nullable().openapi({ description: 'Seconds; null when there is nothing to compute from' });
export const DoraSchema = z
  .object({
    deploymentFrequency: z.object({ perDay: z.number(), deployments: z.number().int(), days: z.number() }),
    leadTime: z.object({ medianSeconds: seconds, p90Seconds: seconds, samples: z.number().int() }),
    changeFailureRate: z.object({ rate: z.number().nullable().openapi({ description: 'failures / deployments; null without deployments' }), failures: z.number().int(), deployments: z.number().int() }),
    timeToRestore: z.object({ medianSeconds: seconds, incidents: z.number().int() }),
    since: z.string(),
    until: z.string(),
    env: z.string().optional(),
    app: z.string().optional(),
  })
  .openapi('Dora', {
    description:
      "DORA figures from Hoist's own records. Deployments: promotions that landed in the window (rollbacks included). Lead time: source commit (the Pipeline Hook's commit.timestamp) → healthy in the environment, per app, rollbacks excluded. Change failure rate: deployments degraded or rolled back within dora.failureWindow of landing. Time to restore: degraded → that environment and app healthy again; open incidents are not counted yet.",
    example: {
      deploymentFrequency: { perDay: 1.5, deployments: 45, days: 30 },
      leadTime: { medianSeconds: 5400, p90Seconds: 86_400, samples: 41 },
      changeFailureRate: { rate: 0.067, failures: 3, deployments: 45 },
      timeToRestore: { medianSeconds: 1200, incidents: 3 },
      since: '2026-02-01T00:00:00.000Z',
      until: '2026-03-03T00:00:00.000Z',
      env: 'prod',
    },
  });

export const TokenRequestSchema = z
  .object({
    name: z.string().trim().min(1, 'must not be empty').max(100, 'at most 100 characters'),
    expiresInDays: z.number().int().min(1).max(3650).optional().openapi({ description: 'Default: no expiry' }),
  })
  .strict()
  .openapi('TokenRequest', { example: { name: 'laptop', expiresInDays: 90 } });
export const TokenSchema = z
  .object({ id: z.string(), name: z.string(), createdAt: z.string(), expiresAt: z.string().optional() })
  .openapi('Token');
export const CreatedTokenSchema = TokenSchema.extend({ token: z.string().openapi({ description: 'Shown once: Hoist keeps only its hash' }) }).openapi('CreatedToken');
export const TokenListSchema = z.object({ tokens: z.array(TokenSchema) }).openapi('TokenList');
export const TokenIdParam = z.object({ id: z.string().max(100, { message: 'at most 100 characters', abort: true }).openapi({ param: { name: 'id', in: 'path' }, example: 't-0123456789abcdef' }) });

export const MeSchema = z
  .object({ user: z.string(), groups: z.array(z.string()), via: z.enum(['session', 'token', 'robot']), csrf: z.string().optional().openapi({ description: 'The board session\'s CSRF token' }) })
  .openapi('Me');
