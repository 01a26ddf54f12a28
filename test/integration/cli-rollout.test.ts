import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { serve } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startArgoCdStub, type ArgoCdStub } from '../helpers/argocd-stub.js';
import { webCanary } from '../helpers/rollouts.js';
import { createTempGitops, PROJECT_ROOT, TEST_GIT_ENV, type TempGitops } from '../helpers/git-repos.js';
import { pipelineEvent, startTestHoist, type TestHoist, waitFor, WEBHOOK_SECRET, webhookRequest, API_TOKEN } from '../helpers/hoist.js';

const TSX_LOADER = pathToFileURL(join(PROJECT_ROOT, 'node_modules/tsx/dist/loader.mjs')).href;
const CLI = join(PROJECT_ROOT, 'src/cli/hoist.ts');

/** The real bin in a process of its own, with only the environment given. */
function hoistCli(args: readonly string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', TSX_LOADER, CLI, ...args], { cwd: PROJECT_ROOT, env: { ...TEST_GIT_ENV, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('hoist rollout and hoist status against a real Hoist and the Argo CD stub', () => {
  let gitops: TempGitops;
  let argo: ArgoCdStub;
  let hoist: TestHoist;
  let server: Server;
  let url: string;
  let tmp: string;
  const tokens: Record<string, string> = {};
  const as = (user: string) => ({ HOME: tmp, XDG_CONFIG_HOME: join(tmp, 'empty'), HOIST_URL: url, HOIST_TOKEN: tokens[user] as string });

  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'hoist-cli-rollout-'));
    gitops = await createTempGitops();
    argo = await startArgoCdStub();
    server = serve({ fetch: (req, env) => hoist.app.fetch(req, env), port: 0, hostname: '127.0.0.1' }) as Server;
    if (!server.listening) await once(server, 'listening');
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    hoist = await startTestHoist(`gitops: { url: "${gitops.url}", branch: main }
gitlab: { webhookSecret: ${WEBHOOK_SECRET} }
api: { token: ${API_TOKEN} }
auth: { demo: true, publicUrl: "${url}" }
argocd: { url: "${argo.url}", token: ${argo.token} }
rbac: { promote: { dev: [alice], "*": [alice] } }
environments:
  - { name: dev, path: gitops-manifests/rollouts/overlays/dev, promotion: auto }
apps:
  - { name: web, project: group/web, image: registry.example.com/group/web, tag: "v$CI_PIPELINE_ID" }
`);
    for (const user of ['alice', 'mallory']) {
      const signIn = await fetch(`${url}/auth/demo`, { method: 'POST', headers: { Origin: url, 'Content-Type': 'application/x-www-form-urlencoded' }, body: `name=${user}`, redirect: 'manual' });
      const cookie = (signIn.headers.get('set-cookie') ?? '').split(';')[0] as string;
      const { csrf } = (await (await fetch(`${url}/api/me`, { headers: { Cookie: cookie } })).json()) as { csrf: string };
      const made = await fetch(`${url}/api/tokens`, { method: 'POST', headers: { Cookie: cookie, 'X-CSRF-Token': csrf, 'Content-Type': 'application/json' }, body: JSON.stringify({ name: 'cli' }) });
      tokens[user] = ((await made.json()) as { token: string }).token;
    }
  });
  afterAll(async () => {
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    await hoist?.close();
    await argo?.close();
    await gitops?.cleanup();
    await rm(tmp, { recursive: true, force: true });
  });

  it('shows the canary in `hoist status`, refuses by rbac with the reason, and resumes it for alice', { timeout: 90_000 }, async () => {
    const head = () => execFileSync('git', ['rev-parse', 'main'], { cwd: gitops.bare, env: TEST_GIT_ENV }).toString().trim();
    argo.onRefresh((name) => {
      argo.setApplication(name, { revision: head(), sync: 'Synced', health: 'Suspended', phase: 'Succeeded' });
      argo.setRollout('web-dev', webCanary('dev', 'v901'));
    });
    argo.onAction((_app, action, r) => {
      if (action !== 'resume') return;
      r.status.currentStepIndex = 3;
      r.status.pauseConditions = [{ reason: 'CanaryPauseStep', startTime: '2026-03-02T09:10:00Z' }];
    });
    await hoist.app.request('/webhooks/gitlab', webhookRequest(await pipelineEvent({ project: 'group/web', id: 901 })));
    await waitFor(async () => {
      const status = (await (await fetch(`${url}/api/status`, { headers: { Authorization: `Bearer ${tokens.alice}` } })).json()) as { cells: Array<{ rollout?: unknown }> };
      return status.cells.some((c) => c.rollout) ? true : undefined;
    }, 'the Rollout in the overview');

    const status = await hoistCli(['status'], as('alice'));
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/^web\s+v901 \(canary 2\/5 at 20 %, paused\)$/m);
    const detail = await hoistCli(['status', 'web'], as('alice'));
    expect(detail.stdout).toMatch(/canary 2\/5 at 20 %, paused/);

    const refused = await hoistCli(['rollout', 'web', 'dev', 'resume'], as('mallory'));
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^hoist: mallory is not allowed to promote to dev/m);
    expect(argo.requests.filter((r) => r.method === 'POST')).toEqual([]);

    const usage = await hoistCli(['rollout', 'web', 'dev', 'pause'], as('alice'));
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/one of resume, promote-full, abort/);

    const resumed = await hoistCli(['rollout', 'web', 'dev', 'resume'], as('alice'));
    expect(resumed.stderr).toBe('');
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toMatch(/^resume p-[0-9a-f]+ {2}web:v901 → dev {2}Rollout canary 4\/5 at 50 %, paused\n$/);
    expect(argo.requests.filter((r) => r.method === 'POST').map((r) => [r.path, r.query.resourceName, r.body])).toEqual([['/api/v1/applications/web-dev/resource/actions', 'web', '"resume"']]);

    const json = await hoistCli(['rollout', 'web', 'dev', 'abort', '--json'], as('mallory'));
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ code: 'forbidden', error: expect.stringMatching(/mallory is not allowed/) });
  });
});
