import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from '@hono/node-server';
import { DEMO_SECRETS, loadRuntimeConfig, readRuntimeEnv } from './config/index.js';
import { isHoistError } from './errors.js';
import { ensureDemoRepo } from './gitops/demo-repo.js';
import { createHoist } from './hoist.js';
import { createKustomizeRenderer } from './kustomize/index.js';
import { createLogger } from './observability/logger.js';
import { checkRedis, redactUrl } from './queue/connection.js';

const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));

/** One line on stderr and a non-zero exit: what a person starting the service needs, not a stack trace. */
function die(message: string): never {
  process.stderr.write(`hoist: ${message}\n`);
  process.exit(1);
}

async function main(): Promise<void> {
  const env = readRuntimeEnv();
  const loaded = await loadRuntimeConfig(env);
  try {
    await checkRedis(env.redisUrl);
  } catch (error) {
    die(
      `cannot reach Redis at ${redactUrl(env.redisUrl)} (${(error as Error).message}). ` +
        'Start one (`redis-server --daemonize yes`) or point REDIS_URL at yours, e.g. REDIS_URL=redis://127.0.0.1:6379.',
    );
  }
  const logger = createLogger({ level: loaded.config.log?.level ?? 'info', pretty: process.stdout.isTTY === true });
  if (loaded.source.kind === 'demo') {
    const seeded = await ensureDemoRepo(loaded.source.repoDir, PROJECT_ROOT, { toolsDir: env.dataDir, baseEnv: env.gitBaseEnv });
    logger.warn(
      { repo: loaded.source.repoDir, seeded, webhookSecret: DEMO_SECRETS.webhookSecret, apiToken: DEMO_SECRETS.apiToken },
      'no hoist.yaml and no HOIST_CONFIG: running the built-in demo config (demo secrets, not for production)',
    );
  }
  const hoist = createHoist({
    config: loaded.config,
    redisUrl: env.redisUrl,
    dataDir: env.dataDir,
    logger,
    gitBaseEnv: env.gitBaseEnv,
    role: env.role,
    renderer: createKustomizeRenderer(env.kustomizeCommand ? { command: env.kustomizeCommand } : {}),
    // A relative gitops.signingKey path is read next to the config file that names it.
    ...(loaded.source.kind === 'file' ? { configDir: dirname(resolve(loaded.source.path)) } : {}),
  });
  await hoist.ready();
  const server = serve({ fetch: hoist.app.fetch, port: env.port }, (info) => {
    logger.info({ port: info.port, role: env.role, config: loaded.source.kind === 'file' ? loaded.source.path : 'built-in demo' }, 'hoist is listening');
  });
  server.on('error', (error: NodeJS.ErrnoException) => {
    die(error.code === 'EADDRINUSE' ? `port ${env.port} is already in use; set PORT to another one` : error.message);
  });
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    // Readiness fails first and the server keeps answering for a moment, so nothing in flight is refused.
    hoist.drain();
    logger.info({ signal, drainMs: env.shutdownDrainMs }, 'shutting down: not ready any more');
    await new Promise((resolve) => setTimeout(resolve, env.shutdownDrainMs));
    server.close();
    logger.info({ timeoutMs: env.shutdownTimeoutMs }, 'shutting down: finishing running jobs');
    await hoist.close({ timeoutMs: env.shutdownTimeoutMs });
    logger.info('shut down');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM').catch(() => process.exit(1)));
  process.on('SIGINT', () => void stop('SIGINT').catch(() => process.exit(1)));
}

main().catch((error: unknown) => {
  if (isHoistError(error) && error.code === 'config_invalid') die(error.message);
  die(error instanceof Error ? (error.stack ?? error.message) : String(error));
});
