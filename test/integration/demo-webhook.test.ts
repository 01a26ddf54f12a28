import { spawn } from 'node:child_process';
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTempGitops, PROJECT_ROOT, TEST_GIT_ENV, type TempGitops } from '../helpers/git-repos.js';
import { startTestHoist, testConfigText, WEBHOOK_SECRET, type TestHoist } from '../helpers/hoist.js';

interface ScriptResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `npm run demo:webhook` as a person runs it: a real node process with only the environment given. */
function demoWebhook(env: Record<string, string>): Promise<ScriptResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(PROJECT_ROOT, 'scripts/demo-webhook.mjs')], { env: { ...TEST_GIT_ENV, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('npm run demo:webhook against a Hoist that is not the demo', () => {
  let gitops: TempGitops;
  let hoist: TestHoist;
  let server: Server;
  let url: string;

  beforeAll(async () => {
    gitops = await createTempGitops();
    // Its own webhook secret, as any real install has.
    hoist = await startTestHoist(testConfigText(gitops.url), { role: 'web' });
    server = serve({ fetch: hoist.app.fetch, port: 0, hostname: '127.0.0.1' }) as Server;
    if (!server.listening) await once(server, 'listening');
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    await hoist?.close();
    await gitops?.cleanup();
  });

  it('exits non-zero on a refusal and says why, without the demo token', async () => {
    const result = await demoWebhook({ HOIST_URL: url });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('POST /webhooks/gitlab → 401');
    expect(result.stderr).toContain(`demo:webhook: Hoist refused the webhook secret: set HOIST_WEBHOOK_SECRET to the gitlab.webhookSecret of the Hoist at ${url}`);
    expect(result.stdout).toBe('');
  });

  it('exits 0 on 202 and does not offer the demo token to another Hoist', async () => {
    const result = await demoWebhook({ HOIST_URL: url, HOIST_WEBHOOK_SECRET: WEBHOOK_SECRET });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^POST \/webhooks\/gitlab → 202\n/);
    expect(result.stdout).not.toContain('hoist-demo-token');
    expect(result.stdout).toContain(`Next: curl -H 'Authorization: Bearer <api.token>' ${url}/api/environments`);
  });
});
