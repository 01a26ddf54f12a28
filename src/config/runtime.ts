import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { HoistError } from '../errors.js';
import { parseDuration } from './duration.js';
import { parseRedisUrl } from './redis-url.js';
import { loadConfigFile, parseConfig } from './load.js';
import type { HoistConfig } from './schema.js';

/** The process environment, read here and nowhere else. */
export interface RuntimeEnv {
  configPath: string | undefined;
  port: number;
  redisUrl: string;
  dataDir: string;
  /** HOIST_ROLE: `web` (webhooks, API), `worker` (GitOps writes) or `all` (both, the default). */
  role: 'all' | 'web' | 'worker';
  /** HOIST_SHUTDOWN_DRAIN: after SIGTERM, how long /readyz fails while still serving (load balancers catch up). */
  shutdownDrainMs: number;
  /** HOIST_SHUTDOWN_TIMEOUT: how long running jobs may take to finish before they are handed back to the queue. */
  shutdownTimeoutMs: number;
  /** HOIST_KUSTOMIZE: the render command (argv prefix, e.g. "kustomize build"); default: found on first use. */
  kustomizeCommand: string[] | undefined;
  /** Everything else a config file may reference as ${VAR}. */
  vars: Readonly<Record<string, string | undefined>>;
  /** What git child processes inherit: enough to find binaries and honour git's own config isolation. */
  gitBaseEnv: Readonly<Record<string, string>>;
}

const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

/**
 * REDIS_URL unset means the local default; set but empty is a mistake (a Secret key with no value, a
 * `REDIS_URL=` left in a file) that must not quietly point a shared install at localhost. The value may
 * hold a password, so messages name its scheme, never the value.
 */
function readRedisUrl(value: string | undefined): string {
  if (value === undefined) return DEFAULT_REDIS_URL;
  if (value.trim() === '') {
    throw new HoistError('config_invalid', `REDIS_URL is set but empty: name your Redis (e.g. REDIS_URL=${DEFAULT_REDIS_URL}), or unset it for that default`);
  }
  // Checked here so a malformed URL stops the start with its reason; queue/connection.ts opens it.
  parseRedisUrl(value);
  return value.trim();
}

const GIT_PASSTHROUGH = ['PATH', 'HOME', 'GIT_CONFIG_GLOBAL', 'GIT_CONFIG_NOSYSTEM', 'SSH_AUTH_SOCK', 'HTTPS_PROXY', 'HTTP_PROXY', 'NO_PROXY', 'SSL_CERT_FILE', 'GIT_SSL_CAINFO'];

export function readRuntimeEnv(env: NodeJS.ProcessEnv = process.env): RuntimeEnv {
  const port = env.PORT === undefined || env.PORT === '' ? 8080 : Number(env.PORT);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new HoistError('config_invalid', `PORT must be a port number, got "${env.PORT}"`);
  }
  const role = env.HOIST_ROLE || 'all';
  if (role !== 'all' && role !== 'web' && role !== 'worker') {
    throw new HoistError('config_invalid', `HOIST_ROLE must be web, worker or all, got "${role}"`);
  }
  const duration = (name: string, fallback: number): number => {
    const text = env[name];
    if (!text) return fallback;
    const ms = parseDuration(text);
    if (ms === undefined) throw new HoistError('config_invalid', `${name} must be a duration such as 5s, got "${text}"`);
    return ms;
  };
  return {
    role,
    shutdownDrainMs: duration('HOIST_SHUTDOWN_DRAIN', 2_000),
    shutdownTimeoutMs: duration('HOIST_SHUTDOWN_TIMEOUT', 25_000),
    configPath: env.HOIST_CONFIG || undefined,
    port,
    redisUrl: readRedisUrl(env.REDIS_URL),
    dataDir: resolve(env.HOIST_DATA_DIR || './.hoist'),
    kustomizeCommand: env.HOIST_KUSTOMIZE ? env.HOIST_KUSTOMIZE.trim().split(/\s+/) : undefined,
    vars: { ...env },
    gitBaseEnv: Object.fromEntries(GIT_PASSTHROUGH.flatMap((name) => (env[name] !== undefined ? [[name, env[name] as string]] : []))),
  };
}

export interface LoadedConfig {
  config: HoistConfig;
  /** `demo` when no config file exists: the built-in config against a local seeded repo. */
  source: { kind: 'file'; path: string } | { kind: 'demo'; repoDir: string };
}

export const DEMO_SECRETS = { webhookSecret: 'hoist-demo-secret', apiToken: 'hoist-demo-token' } as const;

export function demoRepoDir(dataDir: string): string {
  return resolve(dataDir, 'demo', 'gitops.git');
}

export function demoConfigText(dataDir: string, port = 8080): string {
  return `# Built-in demo: a local bare GitOps repo seeded from gitops-manifests/ and overlays/.
gitops:
  url: ${pathToFileURL(demoRepoDir(dataDir)).href}
  branch: main
  author: { name: Hoist, email: hoist@example.invalid }
gitlab: { webhookSecret: ${DEMO_SECRETS.webhookSecret} }
api: { token: ${DEMO_SECRETS.apiToken} }
# The board's "sign in as anyone": loopback only, never on a real install.
auth: { demo: true, publicUrl: http://127.0.0.1:${port} }
environments:
  - { name: dev, path: overlays/dev, promotion: auto }
  - { name: staging, path: overlays/staging, from: dev, promotion: gated }
  # Two people other than the one who asked must approve: try it as two names on the board.
  - name: prod
    path: overlays/prod
    from: staging
    promotion: manual
    approvals: { required: 2, approvers: ["*"], allowSelfApproval: false }
apps:
  - name: web
    project: group/web
    image: registry.example.com/group/web
    tag: $CI_COMMIT_SHORT_SHA
    branches: [main]
`;
}

/** HOIST_CONFIG, else ./hoist.yaml, else the demo. */
export async function loadRuntimeConfig(env: RuntimeEnv): Promise<LoadedConfig> {
  if (env.configPath !== undefined) {
    return { config: await loadConfigFile(env.configPath, env.vars), source: { kind: 'file', path: env.configPath } };
  }
  const local = resolve('hoist.yaml');
  if (existsSync(local)) {
    return { config: await loadConfigFile(local, env.vars), source: { kind: 'file', path: local } };
  }
  return {
    config: parseConfig(demoConfigText(env.dataDir, env.port), '(built-in demo config)', {}),
    source: { kind: 'demo', repoDir: demoRepoDir(env.dataDir) },
  };
}
