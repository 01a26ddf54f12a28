import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { ensureDemoRepo } from '../../src/gitops/demo-repo.js';

const run = promisify(execFile);
export const PROJECT_ROOT = resolve(import.meta.dirname, '../..');

export const TEST_GIT_ENV: Record<string, string> = {
  PATH: process.env.PATH ?? '/usr/bin:/bin',
  HOME: process.env.HOME ?? '/tmp',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_CONFIG_NOSYSTEM: '1',
};

export async function git(cwd: string, ...args: string[]): Promise<string> {
  const { stdout } = await run('git', args, {
    cwd,
    env: { ...TEST_GIT_ENV, GIT_AUTHOR_NAME: 'Test', GIT_AUTHOR_EMAIL: 't@example.invalid', GIT_COMMITTER_NAME: 'Test', GIT_COMMITTER_EMAIL: 't@example.invalid' },
    maxBuffer: 32 * 1024 * 1024,
  });
  return stdout;
}

export interface TempGitops {
  root: string;
  bare: string;
  url: string;
  /** A scratch clone for inspecting or pushing as "someone else". */
  clone(name?: string): Promise<string>;
  cleanup(): Promise<void>;
}

function tempGitopsAt(root: string, bare: string): TempGitops {
  const url = pathToFileURL(bare).href;
  let n = 0;
  return {
    root,
    bare,
    url,
    async clone(name) {
      const dir = join(root, name ?? `clone-${n++}`);
      await git(root, 'clone', '--quiet', url, dir);
      return dir;
    },
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
}

/** A bare GitOps repo seeded from this project's gitops-manifests/ and overlays/, as the demo does it. */
export async function createTempGitops(): Promise<TempGitops> {
  const root = await mkdtemp(join(tmpdir(), 'hoist-test-'));
  const bare = join(root, 'gitops.git');
  await ensureDemoRepo(bare, PROJECT_ROOT, { toolsDir: join(root, 'tools'), baseEnv: TEST_GIT_ENV });
  return tempGitopsAt(root, bare);
}

/**
 * A bare GitOps repo with `apps` Deployments in one base and an overlay per environment (dev/staging/prod unless
 * `options.environments` names others) that sets their tags; images are `<registry>/group/<app>`
 * (registry.example.com unless `options.registry` names another host, per app if need be: a test registry's).
 */
export async function createSyntheticGitops(
  apps: readonly string[],
  options: { registry?: string | ((app: string) => string); environments?: readonly string[] } = {},
): Promise<TempGitops> {
  const registryOf = (app: string) => (typeof options.registry === 'function' ? options.registry(app) : (options.registry ?? 'registry.example.com'));
  const root = await mkdtemp(join(tmpdir(), 'hoist-test-'));
  const work = join(root, 'seed');
  await mkdir(join(work, 'base'), { recursive: true });
  for (const app of apps) {
    await writeFile(
      join(work, 'base', `${app}.yaml`),
      `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: ${app}\nspec:\n  selector:\n    matchLabels: { app: ${app} }\n  template:\n    metadata:\n      labels: { app: ${app} }\n    spec:\n      containers:\n        - name: ${app}\n          image: ${registryOf(app)}/group/${app}\n`,
    );
  }
  await writeFile(join(work, 'base/kustomization.yaml'), `resources:\n${apps.map((a) => `  - ${a}.yaml`).join('\n')}\n`);
  for (const env of options.environments ?? ['dev', 'staging', 'prod']) {
    await mkdir(join(work, 'overlays', env), { recursive: true });
    await writeFile(
      join(work, 'overlays', env, 'kustomization.yaml'),
      `# ${env}\nresources:\n  - ../../base\nimages:\n${apps.map((a) => `  - name: ${registryOf(a)}/group/${a}\n    newTag: "0.0.0"`).join('\n')}\n`,
    );
  }
  const bare = join(root, 'gitops.git');
  await git(root, 'init', '-q', '--bare', '--initial-branch=main', bare);
  await git(work, 'init', '-q', '--initial-branch=main');
  await git(work, 'add', '-A');
  await git(work, 'commit', '-q', '-m', 'seed');
  await git(work, 'push', '-q', bare, 'main');
  return tempGitopsAt(root, bare);
}
