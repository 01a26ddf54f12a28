import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../helpers/redis-server.js';
import { PROJECT_ROOT, TEST_GIT_ENV } from '../helpers/git-repos.js';
import { spawnHoist } from '../helpers/processes.js';

function start(cwd: string, env: Record<string, string>) {
  return spawnHoist(env, { cwd });
}

async function until<T>(fn: () => Promise<T | undefined>, what: string, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('the service as `npm start` runs it', () => {
  let cwd: string;
  beforeAll(async () => {
    cwd = await mkdtemp(join(tmpdir(), 'hoist-proc-'));
  });
  afterAll(() => rm(cwd, { recursive: true, force: true }));

  it('says in one line that Redis is unreachable, and how to fix it', async () => {
    const port = await freePort();
    const run = start(cwd, { REDIS_URL: `redis://127.0.0.1:${port}`, HOIST_DATA_DIR: join(cwd, 'data-noredis'), PORT: String(await freePort()) });
    expect(await run.exited).toBe(1);
    const lines = run.output().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^hoist: cannot reach Redis at redis://127\\.0\\.0\\.1:${port}.*REDIS_URL`));
    expect(run.output()).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('refuses an empty REDIS_URL in one line instead of falling back to localhost', async () => {
    const run = start(cwd, { REDIS_URL: '', HOIST_DATA_DIR: join(cwd, 'data-empty-redis'), PORT: String(await freePort()) });
    expect(await run.exited).toBe(1);
    expect(run.output().trim().split('\n')).toEqual([expect.stringMatching(/^hoist: REDIS_URL is set but empty/)]);
  });

  it('rejects a broken config file naming the file, line and key', async () => {
    const file = join(cwd, 'broken.yaml');
    await writeFile(file, 'gitops: { url: "file:///x.git" }\ngitlab: { webhookSecret: ${HOIST_TEST_UNSET_SECRET} }\napi: { token: t }\nenvironments: []\napps: []\n');
    const run = start(cwd, { HOIST_CONFIG: file, REDIS_URL: inject('redisUrl') });
    expect(await run.exited).toBe(1);
    expect(run.output()).toContain(`${file}:2:26: gitlab.webhookSecret: environment variable HOIST_TEST_UNSET_SECRET is not set`);
  });

  it('runs the built-in demo: a sample pipeline event lands a commit that GET /api/environments shows', async () => {
    const port = await freePort();
    const run = start(cwd, { REDIS_URL: inject('redisUrl'), HOIST_DATA_DIR: join(cwd, 'data'), PORT: String(port) });
    try {
      const base = `http://127.0.0.1:${port}`;
      await until(async () => ((await fetch(`${base}/readyz`)).status === 200 ? true : undefined), 'readyz');
      const sha = 'c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00';
      const demo = spawn(process.execPath, [join(PROJECT_ROOT, 'scripts/demo-webhook.mjs'), sha], { env: { ...TEST_GIT_ENV, HOIST_URL: base } });
      let out = '';
      demo.stdout.on('data', (d: Buffer) => (out += d.toString()));
      await new Promise((r) => demo.once('exit', r));
      expect(out).toContain('POST /webhooks/gitlab → 202');
      // Aimed at the demo on this machine: the hint names the demo's API token.
      expect(out).toContain(`Next: curl -H 'Authorization: Bearer hoist-demo-token' ${base}/api/environments`);
      const envs = await until(async () => {
        const res = await fetch(`${base}/api/environments`, { headers: { Authorization: 'Bearer hoist-demo-token' } });
        const body = (await res.json()) as { environments: Array<{ name: string; apps: Array<{ tag: string }> }> };
        return body.environments[0]?.apps[0]?.tag === 'c0ffee00' ? body : undefined;
      }, 'dev to run the new tag');
      expect(envs.environments.map((e) => e.apps[0]?.tag)).toEqual(['c0ffee00', '0.1.0', '0.1.0']);
      run.kill('SIGTERM');
      expect(await run.exited).toBe(0);
    } finally {
      run.kill('SIGKILL');
    }
  });
});
