import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parse } from 'yaml';
import { PROJECT_ROOT, TEST_GIT_ENV } from '../helpers/git-repos.js';
import { freePort } from '../helpers/redis-server.js';

const SCRIPT = join(PROJECT_ROOT, 'examples/run-local.mjs');
const CONFIG = join(PROJECT_ROOT, 'examples/hoist.local.yaml');
const TSX_LOADER = pathToFileURL(join(PROJECT_ROOT, 'node_modules/tsx/dist/loader.mjs')).href;

function run(args: readonly string[], env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: PROJECT_ROOT, env: { ...TEST_GIT_ENV, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, output }));
  });
}

describe('examples/hoist.local.yaml and examples/run-local.mjs', () => {
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'hoist-example-'));
  });
  afterAll(() => rm(dataDir, { recursive: true, force: true }));

  it('seeds a local GitOps repository that the example config validates against with 0 problems', async () => {
    const check = await run([SCRIPT, '--check'], { HOIST_DATA_DIR: dataDir });
    expect(check.output).toContain(`run-local: GitOps repository ${join(dataDir, 'gitops.git')} (seeded now)`);
    expect(check.output).toContain('ok: 3 environments, 1 app, all overlays render');
    expect(check.code).toBe(0);

    // The same check as a user would type it, with the example's variables set by hand.
    const vars = {
      HOIST_GITOPS_URL: pathToFileURL(join(dataDir, 'gitops.git')).href,
      GITLAB_WEBHOOK_SECRET: 'w',
      HOIST_API_TOKEN: 'a',
      HOIST_DEPLOYMENTS_TOKEN: 'd',
      SLACK_SIGNING_SECRET: 's',
      MATTERMOST_TOKEN: 'm',
      ARGOCD_URL: 'https://argocd.example.com',
      ARGOCD_TOKEN: 't',
      ARGOCD_WEBHOOK_TOKEN: 'n',
    };
    const validate = await run(['--import', TSX_LOADER, join(PROJECT_ROOT, 'src/cli/hoist.ts'), 'validate', CONFIG, '--repo', join(dataDir, 'checkout')], vars);
    expect(validate.output).toBe('ok: 3 environments, 1 app, all overlays render\n');
    expect(validate.code).toBe(0);
  });

  it('shows every policy, chat and Argo CD', async () => {
    const config = parse(await readFile(CONFIG, 'utf8')) as {
      environments: Array<{ name: string; promotion: string; gates?: Record<string, unknown>; approvals?: { required: number } }>;
      rbac?: unknown;
      chatops?: { slack?: unknown; mattermost?: unknown };
      argocd?: unknown;
    };
    expect(config.environments.map((e) => e.promotion)).toEqual(['auto', 'gated', 'manual']);
    expect(Object.keys(config.environments[1]?.gates ?? {}).sort()).toEqual(['freeze', 'healthy', 'soak', 'window']);
    expect(config.environments[2]?.approvals?.required).toBe(2);
    expect(config.rbac).toBeDefined();
    expect(config.chatops?.slack).toBeDefined();
    expect(config.chatops?.mattermost).toBeDefined();
    expect(config.argocd).toBeDefined();
  });

  it('starts Hoist against that repository', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [SCRIPT], {
      cwd: PROJECT_ROOT,
      env: { ...TEST_GIT_ENV, PORT: String(port), REDIS_URL: inject('redisUrl'), HOIST_DATA_DIR: dataDir },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group: the script, npm and the service stop together.
      detached: true,
    });
    let output = '';
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      await new Promise<void>((resolve, reject) => {
        const collect = (d: Buffer) => {
          output += d.toString();
          if (output.includes('hoist is listening')) resolve();
        };
        child.stdout.on('data', collect);
        child.stderr.on('data', collect);
        void exited.then((code) => reject(new Error(`run-local.mjs exited with ${code}:\n${output}`)));
      });
      expect(output).toContain(`"config":"${CONFIG}"`);
      const res = await fetch(`http://127.0.0.1:${port}/api/environments`, { headers: { Authorization: 'Bearer local-api-token' } });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { environments: Array<{ name: string; promotion: string }> };
      expect(body.environments.map((e) => [e.name, e.promotion])).toEqual([['dev', 'auto'], ['staging', 'gated'], ['prod', 'manual']]);
    } finally {
      if (child.pid !== undefined && child.exitCode === null) process.kill(-child.pid, 'SIGTERM');
      await exited;
    }
  }, 60_000);
});

describe('examples/slack-app-manifest.yaml', () => {
  it('points the /hoist command and the Approve button at /chatops/slack, unescaped, with the commands scope', async () => {
    const manifest = parse(await readFile(join(PROJECT_ROOT, 'examples/slack-app-manifest.yaml'), 'utf8')) as {
      display_information: { name: string };
      features: { slash_commands: Array<{ command: string; url: string; description: string; should_escape: boolean }> };
      oauth_config: { scopes: { bot: string[] } };
      settings: { interactivity: { is_enabled: boolean; request_url: string } };
    };
    // Slack's required fields (manifest.schema.1.0.0.json): a display name, and a command with a description.
    expect(manifest.display_information.name.length).toBeLessThanOrEqual(35);
    expect(manifest.features.slash_commands).toEqual([
      expect.objectContaining({ command: '/hoist', url: 'https://hoist.example.com/chatops/slack', should_escape: false, description: expect.any(String) }),
    ]);
    expect(manifest.settings.interactivity).toEqual({ is_enabled: true, request_url: 'https://hoist.example.com/chatops/slack' });
    expect(manifest.oauth_config.scopes.bot).toEqual(['commands']);
  });
});
