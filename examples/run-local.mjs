#!/usr/bin/env node
// Hoist on this machine with examples/hoist.local.yaml, so gates, approvals and chat can be tried without
// writing YAML: seeds a local bare GitOps repository (once, like the built-in demo: this checkout's
// gitops-manifests/ and overlays/), sets the variables the config names, and runs `npm start` with it.
//
//   node examples/run-local.mjs           start Hoist (Ctrl-C stops it)
//   node examples/run-local.mjs --check   `hoist validate` the config against a checkout of that repository
//
// env: PORT (8080), REDIS_URL (redis://127.0.0.1:6379), HOIST_DATA_DIR (.hoist/local); a variable of the config
// that is already set keeps its value.
import { spawn, execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const config = join(root, 'examples', 'hoist.local.yaml');
const dataDir = resolve(process.env.HOIST_DATA_DIR || join(root, '.hoist', 'local'));
const bare = join(dataDir, 'gitops.git');
const port = process.env.PORT || '8080';
const check = process.argv.includes('--check');

const gitEnv = {
  ...process.env,
  GIT_AUTHOR_NAME: 'Hoist example',
  GIT_AUTHOR_EMAIL: 'hoist@example.invalid',
  GIT_COMMITTER_NAME: 'Hoist example',
  GIT_COMMITTER_EMAIL: 'hoist@example.invalid',
};
const git = (cwd, ...args) => execFileSync('git', args, { cwd, env: gitEnv, stdio: ['ignore', 'ignore', 'inherit'] });

/** The same content and history as the built-in demo's repository (src/gitops/demo-repo.ts), made once. */
function ensureRepo() {
  if (existsSync(join(bare, 'HEAD'))) return false;
  const work = mkdtempSync(join(tmpdir(), 'hoist-local-seed-'));
  try {
    for (const dir of ['gitops-manifests', 'overlays']) cpSync(join(root, dir), join(work, dir), { recursive: true });
    mkdirSync(bare, { recursive: true });
    git(bare, 'init', '--bare', '--quiet', '--initial-branch=main');
    git(work, 'init', '--quiet', '--initial-branch=main');
    git(work, 'add', '--all');
    git(work, '-c', 'commit.gpgsign=false', 'commit', '--quiet', '-m', 'seed local GitOps repository');
    git(work, 'push', '--quiet', pathToFileURL(bare).href, 'main');
    return true;
  } catch (error) {
    rmSync(bare, { recursive: true, force: true });
    throw error;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

// Every ${VAR} of hoist.local.yaml, with local values: none of them is a secret anywhere else.
const vars = {
  HOIST_GITOPS_URL: pathToFileURL(bare).href,
  GITLAB_WEBHOOK_SECRET: 'local-webhook-secret',
  HOIST_API_TOKEN: 'local-api-token',
  HOIST_DEPLOYMENTS_TOKEN: 'local-deployments-token',
  SLACK_SIGNING_SECRET: 'local-slack-signing-secret',
  MATTERMOST_TOKEN: 'local-mattermost-token',
  // Port 1 refuses at once: Argo CD is configured, not reachable (see the config's comment).
  ARGOCD_URL: 'http://127.0.0.1:1',
  ARGOCD_TOKEN: 'local-argocd-token',
  ARGOCD_WEBHOOK_TOKEN: 'local-argocd-webhook-token',
};
const env = { ...process.env, HOIST_CONFIG: config, HOIST_DATA_DIR: dataDir, PORT: port };
for (const [name, value] of Object.entries(vars)) if (env[name] === undefined) env[name] = value;

const seeded = ensureRepo();
console.log(`run-local: GitOps repository ${bare}${seeded ? ' (seeded now)' : ''}`);

if (check) {
  // `hoist validate` reads overlays from a checkout, as a CI job of the GitOps repository would.
  const checkout = join(dataDir, 'checkout');
  rmSync(checkout, { recursive: true, force: true });
  git(dataDir, 'clone', '--quiet', pathToFileURL(bare).href, checkout);
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'src/cli/hoist.ts'), 'validate', config, '--repo', checkout], { cwd: root, env, stdio: 'inherit' });
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
} else {
  const base = `http://127.0.0.1:${port}`;
  const api = `-H 'Authorization: Bearer ${env.HOIST_API_TOKEN}'`;
  console.log(`run-local: starting Hoist with examples/hoist.local.yaml on ${base}. Then, in another terminal:
  HOIST_URL=${base} HOIST_WEBHOOK_SECRET=${env.GITLAB_WEBHOOK_SECRET} npm run demo:webhook     # a pipeline: dev at once, staging waits
  curl -s ${api} ${base}/api/promotions                                                         # staging's gates, as they pass
  curl -s -X POST -H 'Authorization: Bearer ${env.HOIST_DEPLOYMENTS_TOKEN}' -H 'Content-Type: application/json' \\
    -d '{"environment":"dev","app":"web","tag":"<tag>","status":"deployed"}' ${base}/webhooks/deployments   # dev is healthy
  curl -s -X POST ${api} -H 'X-Hoist-User: alice' -H 'Content-Type: application/json' -d '{"app":"web","env":"prod"}' ${base}/api/promotions
  curl -s -X POST ${api} -H 'X-Hoist-User: bob' ${base}/api/promotions/<id>/approve                 # then as carol
More in examples/README.md.`);
  const child = spawn('npm', ['start'], { cwd: root, env, stdio: 'inherit' });
  // npm passes these on to the service, which drains and stops.
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}
