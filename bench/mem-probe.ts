// Diagnostic, not part of `npm run bench`: the service (HOIST_ROLE=web) under intake saturation (autocannon,
// 50 connections) with V8's heap sampled from inside every 250 ms, to see what holds memory for given node flags.
//   npx tsx bench/mem-probe.ts <service-root, built> <seconds> [node flags...]
//   e.g. npx tsx bench/mem-probe.ts . 20 --max-semi-space-size=8
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { startRedisServer } from '../test/helpers/redis-server.js';
import { createSyntheticGitops } from '../test/helpers/git-repos.js';
import { appsConfig, WEBHOOK_SECRET } from '../test/helpers/hoist.js';
import { bodyParts } from './scenarios/intake.js';
import { baseEnv, sleep } from './lib/processes.js';

const [root = '/work/main', seconds = '20', ...flags] = process.argv.slice(2);
const redis = await startRedisServer();
const repo = await createSyntheticGitops(['web']);
const dir = await mkdtemp(join(tmpdir(), 'memprobe-'));
const config = join(dir, 'hoist.yaml');
await writeFile(config, appsConfig(repo.url, ['web']));
const memlog = join(dir, 'mem.jsonl');
// Loaded with --import into the service: samples process.memoryUsage() and the V8 heap spaces.
const sampler = join(dir, 'sampler.mjs');
await writeFile(
  sampler,
  `import { appendFileSync } from 'node:fs';
import v8 from 'node:v8';
const mib = (n) => Math.round(n / 1048576);
setInterval(() => {
  const m = process.memoryUsage();
  const spaces = Object.fromEntries(v8.getHeapSpaceStatistics().map((s) => [s.space_name, mib(s.space_size)]));
  appendFileSync(${JSON.stringify(memlog)}, JSON.stringify({ rss: mib(m.rss), heapTotal: mib(m.heapTotal), heapUsed: mib(m.heapUsed), external: mib(m.external), new: spaces.new_space, old: spaces.old_space, lo: spaces.large_object_space }) + '\\n');
}, 250).unref();
`,
);
const port = 19000 + Math.floor(Math.random() * 1000);
const child = spawn(process.execPath, [...flags, '--import', sampler, join(root, 'dist/main.js')], {
  env: { ...baseEnv(), HOIST_CONFIG: config, REDIS_URL: redis.url, HOIST_DATA_DIR: join(dir, 'data'), HOIST_ROLE: 'web', PORT: String(port) },
  stdio: ['ignore', 'ignore', 'inherit'],
});
for (let i = 0; i < 100; i++) {
  if (await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false)) break;
  await sleep(100);
}
const parts = await bodyParts();
let next = 1;
const result = await autocannon({
  url: `http://127.0.0.1:${port}`,
  connections: 50,
  duration: Number(seconds),
  requests: [{ method: 'POST', path: '/webhooks/gitlab', headers: { 'content-type': 'application/json', 'x-gitlab-event': 'Pipeline Hook', 'x-gitlab-token': WEBHOOK_SECRET }, setupRequest: (r) => { const id = next++; return { ...r, headers: { ...r.headers, 'idempotency-key': `m-${id}` }, body: parts.join(String(id)) }; } }],
});
const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
const hwm = /VmHWM:\s+(\d+)/.exec(status)?.[1];
const exited = once(child, 'exit');
child.kill('SIGTERM');
await Promise.race([exited, sleep(15_000)]);
child.kill('SIGKILL');
const samples = (await readFile(memlog, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);
const peak = (k: string) => Math.max(...samples.map((s) => s[k] ?? 0));
process.stdout.write(
  `${JSON.stringify({ flags, rps: Math.round(result.requests.average), p99Ms: result.latency.p99, vmHwmMiB: Math.round(Number(hwm) / 1024), peakRss: peak('rss'), peakHeapTotal: peak('heapTotal'), peakHeapUsed: peak('heapUsed'), peakNewSpace: peak('new'), peakOldSpace: peak('old'), peakExternal: peak('external'), last: samples.at(-1) })}\n`,
);
await redis.stop();
await repo.cleanup();
await rm(dir, { recursive: true, force: true });
process.exit(0);
