import { z } from 'zod';
import { parseFreeze, parseWindow } from '../domain/gates.js';
import { validateApplicationTemplate } from '../argocd/names.js';
import { NAME_PATTERN as NAME } from '../domain/names.js';
import { durationSchema } from './duration.js';

/** An OCI repository reference without tag or digest, optionally with a registry host and port. */
const IMAGE_NAME = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9.-]*[a-zA-Z0-9])?(?::[0-9]+)?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const PROJECT_PATH = /^[A-Za-z0-9_.][A-Za-z0-9_.-]*(?:\/[A-Za-z0-9_.][A-Za-z0-9_.-]*)+$/;

export const promotionPolicySchema = z.enum(['auto', 'gated', 'manual']);

const relativePath = z
  .string()
  .min(1)
  .refine((p) => !p.startsWith('/') && !p.split(/[\\/]/).includes('..') && !/[\0\r\n]/.test(p), {
    message: 'must be a path inside the GitOps repository (relative, no "..")',
  })
  .transform((p) => p.replace(/\/+$/, '').replace(/^\.\//, ''));

const windowSchema = z.string().superRefine((text, ctx) => {
  try {
    parseWindow(text);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
  }
});

const freezeSchema = z.string().superRefine((text, ctx) => {
  try {
    parseFreeze(text);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
  }
});

/** A response_url host as `name` (any port) or `name:port`, compared case-insensitively. */
const responseHost = z
  .string()
  .regex(/^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$/, 'must be a host name, optionally with :port, such as hooks.slack.com');

const member = z.string().regex(/^(\*|group:[A-Za-z0-9._-]+|[A-Za-z0-9._@-]+)$/, 'a name, "group:<name>" or "*"');

export const environmentSchema = z
  .object({
    name: z.string().regex(NAME, 'must match [a-z0-9][a-z0-9-]* (at most 63 characters)'),
    path: relativePath,
    promotion: promotionPolicySchema,
    from: z.string().optional(),
    gates: z
      .object({
        soak: durationSchema.optional(),
        healthy: z.boolean().optional(),
        window: windowSchema.optional(),
        freeze: z.array(freezeSchema).optional(),
      })
      .strict()
      .optional(),
    approvals: z
      .object({
        required: z.number().int().min(1),
        approvers: z.array(member).min(1),
        allowSelfApproval: z.boolean().default(false),
      })
      .strict()
      .optional(),
    /** What happens to an older waiting promotion of the same app when a newer version arrives. */
    pending: z.enum(['supersede', 'queue']).default('supersede'),
    /**
     * How a promotion lands: `push` to the GitOps branch from a clone, a `merge-request` that people merge
     * in GitLab, or an `api` commit through GitLab's Commits API (no clone).
     */
    write: z.enum(['push', 'merge-request', 'api']).default('push'),
    /** Roll back by itself (a normal rollback commit) when the deploy side reports the new version Degraded. */
    autoRollback: z.boolean().default(false),
  })
  .strict();

export const appSchema = z
  .object({
    name: z.string().regex(NAME, 'must match [a-z0-9][a-z0-9-]* (at most 63 characters)'),
    project: z.string().regex(PROJECT_PATH, 'must be a GitLab path_with_namespace such as group/web'),
    image: z.string().regex(IMAGE_NAME, 'must be an image name without tag, such as registry.example.com/group/web'),
    tag: z.string().min(1).default('$CI_COMMIT_SHORT_SHA'),
    /** GitLab's own limit for a branch name is 255 bytes; a pattern longer than any branch matches nothing. */
    branches: z.array(z.string().min(1).max(255, 'must be at most 255 characters')).min(1).optional(),
    /** Merge-request pipelines build unmerged code; promoting them is opt-in. */
    mergeRequestPipelines: z.boolean().default(false),
  })
  .strict();

export const configSchema = z
  .object({
    gitops: z
      .object({
        url: z.string().min(1),
        branch: z.string().regex(/^(?!-)[A-Za-z0-9._/-]+$/, 'must be a branch name').default('main'),
        author: z
          .object({ name: z.string().min(1).default('Hoist'), email: z.string().min(3).default('hoist@example.invalid') })
          .strict()
          .default({ name: 'Hoist', email: 'hoist@example.invalid' }),
        /** The GitOps repository's own GitLab project (path_with_namespace), for merge requests and API commits. */
        project: z.string().regex(PROJECT_PATH, 'must be a GitLab path_with_namespace such as group/gitops').optional(),
        /**
         * Hoist signs every commit with this ed25519 key (git's SSH signing): the private key's text, or a path to it.
         * Without it Hoist makes a key once and keeps it in Redis.
         */
        signingKey: z.string().min(1, 'must not be empty').optional(),
        /** Public keys (`ssh-ed25519 AAAA…`) whose signatures also count as Hoist's: keys in use before a rotation. */
        trustedKeys: z.array(z.string().min(1).max(1_000)).max(100).default([]),
      })
      .strict(),
    gitlab: z
      .object({
        /** Compared with X-Gitlab-Token (the hook's "Secret token"). */
        webhookSecret: z.string().min(1, 'must not be empty').optional(),
        /** A signed webhook's signing token (`whsec_…`): verifies the Standard Webhooks headers. */
        signingToken: z.string().regex(/^whsec_[A-Za-z0-9+/]+={0,2}$/, 'must be the "whsec_…" signing token GitLab shows for the webhook').optional(),
        /** GitLab's base URL and a token with the `api` scope: commit statuses, merge requests, API commits. */
        url: z.string().url('must be a URL such as https://gitlab.example.com').optional(),
        token: z.string().min(1, 'must not be empty').optional(),
      })
      .strict()
      .superRefine((g, ctx) => {
        if (g.webhookSecret === undefined && g.signingToken === undefined) {
          ctx.addIssue({ code: 'custom', path: ['webhookSecret'], message: 'set webhookSecret (X-Gitlab-Token) or signingToken (signed webhooks), or both' });
        }
        if ((g.url === undefined) !== (g.token === undefined)) {
          ctx.addIssue({ code: 'custom', path: [g.url === undefined ? 'url' : 'token'], message: 'gitlab.url and gitlab.token go together' });
        }
      }),
    argocd: z
      .object({
        url: z.string().url('must be the Argo CD server URL such as https://argocd.example.com'),
        token: z.string().min(1, 'must not be empty'),
        /** Application name per app and environment; `{{app}}` may be left out when one Application holds every app. */
        applications: z.string().default('{{app}}-{{env}}'),
        /** Bearer token Argo CD notifications send to POST /webhooks/argocd. */
        webhookToken: z.string().min(1, 'must not be empty').optional(),
        /** How long to follow a new commit's sync in Argo CD before giving up on a verdict. */
        watchTimeout: durationSchema.default(15 * 60_000),
      })
      .strict()
      .optional(),
    api: z.object({ token: z.string().min(1, 'must not be empty') }).strict(),
    environments: z.array(environmentSchema).min(1),
    apps: z.array(appSchema).min(1),
    rbac: z
      .object({
        promote: z.record(z.string(), z.array(member)),
        groups: z.record(z.string(), z.array(z.string())).default({}),
      })
      .strict()
      .optional(),
    chatops: z
      .object({
        /** responseHosts: the only hosts a request's response_url may name; replies go nowhere else. */
        slack: z.object({ signingSecret: z.string().min(1), responseHosts: z.array(responseHost).default(['hooks.slack.com']) }).strict().optional(),
        mattermost: z.object({ token: z.string().min(1), responseHosts: z.array(responseHost).default([]) }).strict().optional(),
        /** Chat user id → the name rbac and approvals use. */
        users: z.record(z.string(), z.string()).default({}),
      })
      .strict()
      .optional(),
    /** Bearer token of POST /webhooks/deployments (deploy reports feeding the `healthy` gate). */
    deployments: z.object({ token: z.string().min(1) }).strict().optional(),
    queue: z
      .object({
        /** Redis key prefix: several Hoist installs can share one Redis. */
        prefix: z.string().regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, _ and - only').default('hoist'),
        /** Tries per promotion when failures are transient (remote unreachable and the like). */
        attempts: z.number().int().min(1).max(100).default(5),
        /** Jobs in flight per worker process; most of them wait for the repo's writer. */
        concurrency: z.number().int().min(1).max(1000).default(32),
        /** How long a crashed worker's job and write lock keep others waiting before they take over. */
        lockTimeout: durationSchema.pipe(z.number().min(2_000, 'must be at least 2s')).default(30_000),
        /** Longest wait between two checks of a waiting promotion's gates. */
        gateInterval: durationSchema.pipe(z.number().min(100)).default(30_000),
      })
      .strict()
      .default({ prefix: 'hoist', attempts: 5, concurrency: 32, lockTimeout: 30_000, gateInterval: 30_000 }),
    log: z.object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') }).strict().optional(),
  })
  .strict()
  .superRefine((config, ctx) => {
    const envNames = new Map<string, number>();
    config.environments.forEach((env, index) => {
      if (envNames.has(env.name)) {
        ctx.addIssue({ code: 'custom', path: ['environments', index, 'name'], message: `duplicate environment "${env.name}"` });
      }
      envNames.set(env.name, index);
    });
    config.environments.forEach((env, index) => {
      if (env.from !== undefined && !envNames.has(env.from)) {
        ctx.addIssue({ code: 'custom', path: ['environments', index, 'from'], message: `unknown environment "${env.from}"` });
      }
      if (env.from === env.name) {
        ctx.addIssue({ code: 'custom', path: ['environments', index, 'from'], message: 'an environment cannot promote from itself' });
      }
      if (env.promotion !== 'auto' && env.from === undefined) {
        ctx.addIssue({ code: 'custom', path: ['environments', index, 'from'], message: `a ${env.promotion} environment needs "from"` });
      }
    });
    // A cycle in `from` would make "the chain" meaningless.
    for (const [index, env] of config.environments.entries()) {
      const seen = new Set([env.name]);
      let next = env.from;
      while (next !== undefined) {
        if (seen.has(next)) {
          ctx.addIssue({ code: 'custom', path: ['environments', index, 'from'], message: `"from" forms a cycle through "${next}"` });
          break;
        }
        seen.add(next);
        next = config.environments.find((e) => e.name === next)?.from;
      }
    }
    const paths = new Map<string, number>();
    config.environments.forEach((env, index) => {
      if (paths.has(env.path)) {
        ctx.addIssue({ code: 'custom', path: ['environments', index, 'path'], message: `path "${env.path}" is already used by another environment` });
      }
      paths.set(env.path, index);
    });
    config.environments.forEach((env, index) => {
      if (env.promotion === 'auto' && (env.gates || env.approvals)) {
        ctx.addIssue({ code: 'custom', path: ['environments', index, 'promotion'], message: 'an auto environment takes every pipeline: gates and approvals need promotion gated or manual' });
      }
      for (const approver of env.approvals?.approvers ?? []) {
        if (approver.startsWith('group:') && !config.rbac?.groups[approver.slice(6)]) {
          ctx.addIssue({ code: 'custom', path: ['environments', index, 'approvals', 'approvers'], message: `unknown group "${approver.slice(6)}" (define it under rbac.groups)` });
        }
      }
    });
    for (const [env, members] of Object.entries(config.rbac?.promote ?? {})) {
      if (env !== '*' && !envNames.has(env)) ctx.addIssue({ code: 'custom', path: ['rbac', 'promote', env], message: `unknown environment "${env}"` });
      for (const m of members) {
        if (m.startsWith('group:') && !config.rbac?.groups[m.slice(6)]) ctx.addIssue({ code: 'custom', path: ['rbac', 'promote', env], message: `unknown group "${m.slice(6)}"` });
      }
    }
    if (config.argocd) {
      const problem = validateApplicationTemplate(config.argocd.applications);
      if (problem) ctx.addIssue({ code: 'custom', path: ['argocd', 'applications'], message: problem });
    }
    config.environments.forEach((env, index) => {
      if (env.write === 'push') return;
      if (!config.gitlab.url) ctx.addIssue({ code: 'custom', path: ['environments', index, 'write'], message: `write: ${env.write} needs gitlab.url and gitlab.token` });
      if (!config.gitops.project) ctx.addIssue({ code: 'custom', path: ['environments', index, 'write'], message: `write: ${env.write} needs gitops.project (the GitOps repository's GitLab path)` });
    });
    const appNames = new Set<string>();
    config.apps.forEach((app, index) => {
      if (appNames.has(app.name)) {
        ctx.addIssue({ code: 'custom', path: ['apps', index, 'name'], message: `duplicate app "${app.name}"` });
      }
      appNames.add(app.name);
    });
  });

export type HoistConfig = z.output<typeof configSchema>;
export type EnvironmentConfig = HoistConfig['environments'][number];
export type AppConfig = HoistConfig['apps'][number];
