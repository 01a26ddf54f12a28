import { z } from 'zod';
import { parseFreeze, parseWindow } from '../domain/gates.js';
import { validateApplicationTemplate } from '../argocd/names.js';
import { NAME_PATTERN as NAME } from '../domain/names.js';
import { didYouMean } from '../domain/suggest.js';
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

/** A name, `*`, or `group:<name>`: a group of rbac.groups, or a full group path from the sign-in (`group:platform/release`). */
const member = z.string().max(255).regex(/^(\*|group:[A-Za-z0-9._-]+(?:\/[A-Za-z0-9._-]+)*|[A-Za-z0-9._@-]+)$/, 'a name, "group:<name>" or "*"');

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);
/** True for http(s) URLs on a loopback address: tests and local trials, never a shared install. */
export function isLoopbackUrl(url: string): boolean {
  try {
    return LOOPBACK_HOSTS.has(new URL(url).hostname) || new URL(url).hostname.startsWith('127.');
  } catch {
    return false;
  }
}

const authSchema = z
  .object({
    /** Sign-in with OpenID Connect (GitLab, or any issuer). */
    oidc: z
      .object({
        issuer: z.string().url('must be the issuer URL, e.g. https://gitlab.example.com'),
        clientId: z.string().min(1, 'must not be empty'),
        clientSecret: z.string().min(1, 'must not be empty'),
        /** The ID token claim that names the person (the name rbac and approvals use). */
        usernameClaim: z.string().min(1).default('preferred_username'),
        /** The claim listing their groups (full paths), named in rbac and approvers as `group:<path>`. */
        groupsClaim: z.string().min(1).default('groups'),
        scopes: z.array(z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/, 'a scope name')).min(1).default(['openid', 'profile', 'email']),
      })
      .strict()
      .optional(),
    /** Signs the session cookie. */
    sessionSecret: z.string().min(16, 'must be at least 16 characters (e.g. openssl rand -hex 32)').optional(),
    /** Where people reach Hoist (the OIDC redirect URI is publicUrl + /auth/callback). */
    publicUrl: z.string().url('must be the URL people open, e.g. https://hoist.example.com').optional(),
    /** How long a sign-in lasts. */
    sessionTtl: durationSchema.pipe(z.number().min(60_000, 'must be at least 1m')).default(12 * 3600_000),
    /** The built-in demo's "sign in as anyone" (loopback publicUrl only). */
    demo: z.boolean().default(false),
  })
  .strict()
  .superRefine((a, ctx) => {
    if (a.oidc) {
      const issuer = a.oidc.issuer;
      if (issuer.startsWith('http://') && !isLoopbackUrl(issuer)) ctx.addIssue({ code: 'custom', path: ['oidc', 'issuer'], message: 'must be https (http:// only on a loopback address, for tests and local trials)' });
      if (!a.publicUrl) ctx.addIssue({ code: 'custom', path: ['publicUrl'], message: 'missing: OpenID Connect needs the URL people open, for its redirect URI' });
      if (!a.sessionSecret) ctx.addIssue({ code: 'custom', path: ['sessionSecret'], message: 'missing: it signs the session cookie' });
    }
    if (a.demo && !(a.publicUrl && isLoopbackUrl(a.publicUrl))) {
      ctx.addIssue({ code: 'custom', path: ['demo'], message: 'demo sign-in lets anyone be anyone: it needs a loopback publicUrl (http://127.0.0.1:8080)' });
    }
    if (a.demo && a.oidc) ctx.addIssue({ code: 'custom', path: ['demo'], message: 'demo sign-in and oidc exclude each other' });
  });

/** GitLab's own rule for environment names: letters, digits, spaces, `-_./${}`, not starting or ending with `/`. */
const GITLAB_ENVIRONMENT_NAME = /^(?!\/)[A-Za-z0-9 _.${}/-]{1,255}(?<!\/)$/;

const gitlabEnvironmentSchema = z
  .object({
    name: z.string().regex(GITLAB_ENVIRONMENT_NAME, 'must be a GitLab environment name: letters, digits, spaces and -_./${} (not starting or ending with /)').optional(),
    tier: z.enum(['production', 'staging', 'testing', 'development', 'other']).optional(),
    externalUrl: z.string().url('must be a URL such as https://shop.example.com').refine((u) => /^https?:\/\//i.test(u), 'must be an http(s) URL').optional(),
  })
  .strict();

const BRANCH = /^(?!-)(?!.*\.\.)[A-Za-z0-9._/-]{1,200}$/;

/** One GitOps repository of `gitops.repos`; author and signing key default to gitops'. */
const repoSchema = z
  .object({
    url: z.string().min(1),
    branch: z.string().regex(BRANCH, 'must be a branch name').default('main'),
    /** Its GitLab project (path_with_namespace): merge requests and API commits. */
    project: z.string().regex(PROJECT_PATH, 'must be a GitLab path_with_namespace such as group/gitops').optional(),
    /** Signs this repository's commits instead of gitops.signingKey. */
    signingKey: z.string().min(1, 'must not be empty').optional(),
  })
  .strict();

export const environmentSchema = z
  .object({
    name: z.string().regex(NAME, 'must match [a-z0-9][a-z0-9-]* (at most 63 characters)'),
    path: relativePath,
    /** The GitOps repository (a name of gitops.repos, or `default`) its overlay lives in. */
    repo: z.string().regex(NAME, 'a repository name').optional(),
    /** Its own branch of that repository (environment branches); default the repository's branch. */
    branch: z.string().regex(BRANCH, 'must be a branch name').optional(),
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
    /** `digest`: write the registry's manifest digest beside the tag, so a re-pushed tag cannot change what runs. */
    pin: z.enum(['tag', 'digest']).default('tag'),
    /** Ask the registry before writing: a tag it does not have fails the promotion at once (implied by pin: digest). */
    verifyTag: z.boolean().default(false),
    /** After a version turned healthy, how long Hoist keeps reading Argo CD for a late Degraded (`0s`: not at all). */
    watch: durationSchema.default(10 * 60_000),
    /** Argo Rollouts: what Hoist does by itself with a canary's (or a blue-green preview's) pauses. */
    rollout: z
      .object({
        /** Resume each pause that waits for someone once the canary has been (healthy and) paused `after` long. */
        autoPromote: z.object({ after: durationSchema, healthy: z.boolean().default(true) }).strict().optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

/** A registry host as images name it (`registry.example.com`, `registry.example.com:5000`, `docker.io`). */
const REGISTRY_HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$/;

/** Credentials of one registry (anonymous without them) and whether it speaks plain http. */
const registrySchema = z
  .object({
    username: z.string().min(1, 'must not be empty').optional(),
    password: z.string().min(1, 'must not be empty').optional(),
    /** Plain http: loopback hosts always may; any other host only with this (a registry on a trusted network). */
    insecure: z.boolean().default(false),
  })
  .strict()
  .superRefine((r, ctx) => {
    if ((r.username === undefined) !== (r.password === undefined)) {
      ctx.addIssue({ code: 'custom', path: [r.username === undefined ? 'username' : 'password'], message: 'username and password go together' });
    }
  });

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
    /** Per environment, the repository this app's overlay entry lives in, when not the environment's own. */
    repos: z.record(z.string().regex(NAME, 'an environment name'), z.string().regex(NAME, 'a repository name')).optional(),
  })
  .strict();

/**
 * What the cross-field checks of configSchema read, with the types they need. Zod skips a refinement once any
 * field is invalid; these run whenever their inputs have these types, so one bad `promotion:` does not hide an
 * unknown `from:` of the same file until the next run. A check that reads another field must name it here.
 */
const relationsInput = z.looseObject({
  gitops: z.looseObject({
    url: z.string().optional(),
    project: z.string().optional(),
    repos: z.record(z.string(), z.looseObject({ project: z.string().optional() })).optional(),
  }),
  gitlab: z.looseObject({ url: z.string().optional(), environments: z.record(z.string(), z.unknown()).optional() }),
  argocd: z.looseObject({ applications: z.string() }).optional(),
  environments: z.array(
    z.looseObject({
      name: z.string().optional(),
      path: z.string().optional(),
      // Compared with literals only, so any value will do.
      promotion: z.unknown().optional(),
      from: z.string().optional(),
      approvals: z.looseObject({ approvers: z.array(z.string()) }).optional(),
      write: z.unknown().optional(),
      repo: z.string().optional(),
      rollout: z.looseObject({ autoPromote: z.unknown().optional() }).optional(),
    }),
  ),
  apps: z.array(z.looseObject({ name: z.string().optional(), repos: z.record(z.string(), z.string()).optional() })),
  rbac: z.looseObject({ promote: z.record(z.string(), z.array(z.string())), groups: z.record(z.string(), z.unknown()) }).optional(),
  auth: z.looseObject({ oidc: z.unknown().optional() }).optional(),
});

export const configSchema = z
  .object({
    gitops: z
      .object({
        /** The one GitOps repository (named `default`); `repos` names more. */
        url: z.string().min(1).optional(),
        branch: z.string().regex(BRANCH, 'must be a branch name').default('main'),
        /** More GitOps repositories by name; environments (and apps, per environment) say which one they live in. */
        repos: z.record(z.string().regex(NAME, 'a repository name: [a-z0-9][a-z0-9-]*'), repoSchema).optional(),
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
        /**
         * How each Hoist environment shows in GitLab (Operate > Environments) when Hoist records its deployments:
         * its name there, tier and link. Default: Hoist's name and a tier guessed from it.
         */
        environments: z.record(z.string(), gitlabEnvironmentSchema).optional(),
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
    api: z
      .object({
        /** Bearer token of /api/*: it acts as the robot user `api`. */
        token: z.string().min(1, 'must not be empty'),
        /** Honour `X-Hoist-User` from callers holding api.token: only behind a front end that authenticates people itself. */
        trustUserHeader: z.boolean().default(false),
      })
      .strict(),
    auth: authSchema.optional(),
    /** Per registry host, credentials for digest pinning and verifyTag; a host not listed is asked anonymously. */
    registries: z
      .record(z.string(), registrySchema)
      .superRefine((registries, ctx) => {
        // Checked here rather than as the record's key schema, whose message would only say "Invalid key in record".
        for (const host of Object.keys(registries)) {
          if (!REGISTRY_HOST.test(host)) ctx.addIssue({ code: 'custom', path: [host], message: 'must be a registry host, optionally with :port, such as registry.example.com (no scheme, no path)' });
        }
      })
      .optional(),
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
    /** DORA figures (GET /api/dora, metrics): a deployment degraded or rolled back within failureWindow of landing is a failed change. */
    dora: z.object({ failureWindow: durationSchema.pipe(z.number().min(60_000, 'must be at least 1m')).default(3_600_000) }).strict().optional(),
    queue: z
      .object({
        /**
         * Redis key prefix: several Hoist installs can share one Redis. On a Redis Cluster Hoist wraps it in braces
         * (`{hoist}`, a hash tag) so every key lands in one slot; written in braces it is used so everywhere.
         */
        prefix: z
          .string()
          .regex(/^(?:[A-Za-z0-9_-]+|\{[A-Za-z0-9_-]+\})$/, 'letters, digits, _ and - only, optionally in braces as a Redis Cluster hash tag ({hoist})')
          .default('hoist'),
        /** Tries per promotion when failures are transient (remote unreachable and the like). */
        attempts: z.number().int().min(1).max(100).default(5),
        /**
         * Jobs in flight per worker process; most of them wait for their repo's writer, which takes every waiting
         * one into its next commit. Default 32 per repo and branch written (at most 1,000), so a burst in a fleet
         * batches per repo as well as one repo's does.
         */
        concurrency: z.number().int().min(1).max(1000).optional(),
        /** How long a crashed worker's job and write lock keep others waiting before they take over. */
        lockTimeout: durationSchema.pipe(z.number().min(2_000, 'must be at least 2s')).default(30_000),
        /** Longest wait between two checks of a waiting promotion's gates. */
        gateInterval: durationSchema.pipe(z.number().min(100)).default(30_000),
      })
      .strict()
      .default({ prefix: 'hoist', attempts: 5, lockTimeout: 30_000, gateInterval: 30_000 }),
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
        ctx.addIssue({ code: 'custom', path: ['environments', index, 'from'], message: `unknown environment "${env.from}"${didYouMean(env.from, envNames.keys())}` });
      }
      if (env.from === env.name) {
        ctx.addIssue({ code: 'custom', path: ['environments', index, 'from'], message: 'an environment cannot promote from itself' });
      }
      if ((env.promotion === 'gated' || env.promotion === 'manual') && env.from === undefined) {
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
        if (approver.startsWith('group:') && !config.rbac?.groups[approver.slice(6)] && !config.auth?.oidc) {
          ctx.addIssue({ code: 'custom', path: ['environments', index, 'approvals', 'approvers'], message: `unknown group "${approver.slice(6)}" (define it under rbac.groups, or sign people in with auth.oidc to use their groups)` });
        }
      }
    });
    for (const [env, members] of Object.entries(config.rbac?.promote ?? {})) {
      if (env !== '*' && !envNames.has(env)) ctx.addIssue({ code: 'custom', path: ['rbac', 'promote', env], message: `unknown environment "${env}"${didYouMean(env, envNames.keys())}` });
      for (const m of members) {
        if (m.startsWith('group:') && !config.rbac?.groups[m.slice(6)] && !config.auth?.oidc) ctx.addIssue({ code: 'custom', path: ['rbac', 'promote', env], message: `unknown group "${m.slice(6)}" (define it under rbac.groups, or sign people in with auth.oidc to use their groups)` });
      }
    }
    if (config.argocd) {
      const problem = validateApplicationTemplate(config.argocd.applications);
      if (problem) ctx.addIssue({ code: 'custom', path: ['argocd', 'applications'], message: problem });
    }
    config.environments.forEach((env, index) => {
      if (env.rollout?.autoPromote && !config.argocd) {
        ctx.addIssue({ code: 'custom', path: ['environments', index, 'rollout', 'autoPromote'], message: 'needs argocd: Hoist reads and resumes Rollouts through Argo CD' });
      }
    });
    // The repositories: `gitops.url` is the one named `default`; `gitops.repos` names more.
    const repoNames = new Set([...(config.gitops.url !== undefined ? ['default'] : []), ...Object.keys(config.gitops.repos ?? {})]);
    if (repoNames.size === 0) ctx.addIssue({ code: 'custom', path: ['gitops', 'url'], message: 'missing: the GitOps repository (or name several under gitops.repos)' });
    if (config.gitops.url !== undefined && config.gitops.repos && Object.hasOwn(config.gitops.repos, 'default')) {
      ctx.addIssue({ code: 'custom', path: ['gitops', 'repos', 'default'], message: '"default" is gitops.url\'s name: give this repository another' });
    }
    const projectOf = (repo: string) => (repo === 'default' && config.gitops.url !== undefined ? config.gitops.project : config.gitops.repos?.[repo]?.project);
    config.environments.forEach((env, index) => {
      const repo = env.repo ?? (repoNames.has('default') ? 'default' : repoNames.size === 1 ? [...repoNames][0] : undefined);
      if (env.repo !== undefined && !repoNames.has(env.repo)) {
        ctx.addIssue({ code: 'custom', path: ['environments', index, 'repo'], message: `unknown repository "${env.repo}"${didYouMean(env.repo, repoNames)} (gitops.repos names them; gitops.url is "default")` });
      } else if (repo === undefined && repoNames.size > 1) {
        ctx.addIssue({ code: 'custom', path: ['environments', index, 'repo'], message: `missing: which of the repositories (${[...repoNames].join(', ')}) holds this environment's overlay` });
      }
      if (env.write !== 'merge-request' && env.write !== 'api') return;
      if (!config.gitlab.url) ctx.addIssue({ code: 'custom', path: ['environments', index, 'write'], message: `write: ${env.write} needs gitlab.url and gitlab.token` });
      if (repo !== undefined && repoNames.has(repo) && !projectOf(repo)) {
        const where = repo === 'default' ? 'gitops.project' : `gitops.repos.${repo}.project`;
        ctx.addIssue({ code: 'custom', path: ['environments', index, 'write'], message: `write: ${env.write} needs ${where} (the GitOps repository's GitLab path)` });
      }
    });
    config.apps.forEach((app, index) => {
      for (const [env, repo] of Object.entries(app.repos ?? {})) {
        if (!envNames.has(env)) ctx.addIssue({ code: 'custom', path: ['apps', index, 'repos', env], message: `unknown environment "${env}"${didYouMean(env, envNames.keys())}` });
        if (!repoNames.has(repo)) ctx.addIssue({ code: 'custom', path: ['apps', index, 'repos', env], message: `unknown repository "${repo}"${didYouMean(repo, repoNames)}` });
      }
    });
    for (const env of Object.keys(config.gitlab.environments ?? {})) {
      if (!envNames.has(env)) ctx.addIssue({ code: 'custom', path: ['gitlab', 'environments', env], message: `unknown environment "${env}"${didYouMean(env, envNames.keys())}` });
    }
    const appNames = new Set<string>();
    config.apps.forEach((app, index) => {
      if (appNames.has(app.name)) {
        ctx.addIssue({ code: 'custom', path: ['apps', index, 'name'], message: `duplicate app "${app.name}"` });
      }
      appNames.add(app.name);
    });
  }, { when: (payload) => relationsInput.safeParse(payload.value).success });

export type HoistConfig = z.output<typeof configSchema>;
export type EnvironmentConfig = HoistConfig['environments'][number];
export type AppConfig = HoistConfig['apps'][number];
