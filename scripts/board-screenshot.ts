// `npx tsx scripts/board-screenshot.ts [out.png]`: the README's picture of the board (docs/board.png), taken with
// Debian's chromium against the built-in demo. It starts its own redis-server and a demo Hoist on free loopback
// ports in a temp dir, plays a few pipelines and a promotion waiting for its second approval, then shoots
// alice's board. Nothing is left behind.
import type { Server } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { serve } from '@hono/node-server';
import { pino } from 'pino';
import { DEMO_SECRETS, demoConfigText, demoRepoDir } from '../src/config/index.js';
import { parseConfig } from '../src/config/load.js';
import { ensureDemoRepo } from '../src/gitops/demo-repo.js';
import { createHoist } from '../src/hoist.js';
import { launchBrowser, newPerson } from '../test/helpers/browser.js';
import { PROJECT_ROOT, TEST_GIT_ENV } from '../test/helpers/git-repos.js';
import { pipelineEvent, webhookRequest } from '../test/helpers/hoist.js';
import { freePort, startRedisServer } from '../test/helpers/redis-server.js';

const out = resolve(process.argv[2] ?? join(PROJECT_ROOT, 'docs/board.png'));
const redis = await startRedisServer();
const dataDir = await mkdtemp(join(tmpdir(), 'hoist-screenshot-'));
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
await ensureDemoRepo(demoRepoDir(dataDir), PROJECT_ROOT, { toolsDir: join(dataDir, 'tools'), baseEnv: TEST_GIT_ENV });
const hoist = createHoist({ config: parseConfig(demoConfigText(dataDir, port), '(demo)', {}), redisUrl: redis.url, dataDir, logger: pino({ level: 'warn' }), gitBaseEnv: TEST_GIT_ENV });
await hoist.ready();
const server = serve({ fetch: hoist.app.fetch, port, hostname: '127.0.0.1' }) as Server;
const browser = await launchBrowser();
try {
  const landed = async (sha: string) => {
    const event = await pipelineEvent({ project: 'group/web', sha, id: Number.parseInt(sha.slice(0, 6), 16) });
    const res = await hoist.app.request('/webhooks/gitlab', webhookRequest(event, { 'X-Gitlab-Token': DEMO_SECRETS.webhookSecret }));
    if (res.status !== 202) throw new Error(`webhook: ${res.status} ${await res.text()}`);
  };
  const person = async (name: string) => {
    const page = await (await newPerson(browser, { viewport: { width: 1100, height: 820 }, deviceScaleFactor: 1 })).newPage();
    await page.goto(`${base}/`);
    await page.getByLabel('Sign in as').fill(name);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${base}/`);
    return page;
  };
  const cell = (page: Awaited<ReturnType<typeof person>>, env: number) => page.getByRole('table', { name: 'Environments' }).getByRole('row').nth(1).getByRole('cell').nth(env);
  const alice = await person('alice');
  await landed('4f2a9c1e0d3b5a6978c1d2e3f4a5b6c7d8e9f001');
  await cell(alice, 1).getByRole('button', { name: 'Promote' }).waitFor();
  await cell(alice, 1).getByRole('button', { name: 'Promote' }).click();
  await alice.getByRole('dialog').getByRole('button', { name: 'Confirm' }).click();
  await alice.getByRole('cell', { name: /^4f2a9c1e/ }).nth(1).waitFor();
  await cell(alice, 2).getByRole('button', { name: 'Promote' }).click();
  await alice.getByRole('dialog').getByRole('button', { name: 'Confirm' }).click();
  const bob = await person('bob');
  await bob.getByRole('region', { name: 'Pending' }).getByRole('button', { name: 'Approve' }).click();
  await alice.getByRole('region', { name: 'Pending' }).getByText(/1 of 2 \(bob\)/).waitFor();
  await landed('9b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c');
  await cell(alice, 0).getByText('9b7c6d5e').waitFor();
  await alice.waitForTimeout(1_500);
  await alice.screenshot({ path: out, fullPage: true });
  process.stdout.write(`wrote ${out}\n`);
} finally {
  await browser.close();
  server.closeAllConnections();
  server.close();
  await hoist.close();
  await redis.stop();
  await rm(dataDir, { recursive: true, force: true });
}
