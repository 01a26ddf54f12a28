import { Agent, request } from 'node:http';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { Queue } from 'bullmq';
import { PROMOTION_QUEUE } from '../../src/service/promotion-job.js';
import { createSyntheticGitops } from '../../test/helpers/git-repos.js';
import { appsConfig, pipelineEvent, WEBHOOK_SECRET } from '../../test/helpers/hoist.js';
import type { BenchContext, HoistProcess } from '../lib/context.js';
import { monotonicUs, summarizeProfile, type ProfileSummary } from '../lib/profile.js';
import { round, summarize, type Summary } from '../lib/stats.js';

export interface LoadResult {
  phase: string;
  /** autocannon with overallRate or as fast as it can, or the bench's own uniform open-loop sender. */
  tool: 'autocannon' | 'uniform';
  connections: number;
  targetRate: number | null;
  durationS: number;
  requests: number;
  rps: number;
  latencyMs: Summary;
  status: Record<string, number>;
  errors: number;
  timeouts: number;
  non2xx: number;
}

export interface IntakeTarget {
  name: string;
  phases: LoadResult[];
  /** Jobs found in Redis afterwards (each 202 must have stored one). */
  jobsStored: number;
  /** 202 answers, warm-up included. */
  accepted: number;
  peakRssMiB: number;
}

export interface IntakeResult {
  role: 'web';
  bodyBytes: number;
  targets: IntakeTarget[];
  /** The service under saturation with --cpu-prof (a separate, shorter run). */
  profile?: { rps: number; durationS: number; summary: ProfileSummary | undefined };
}

const PLACEHOLDER = 987654321;

/** The Pipeline Hook body with a placeholder pipeline id, split so each request gets its own id cheaply. */
export async function bodyParts(): Promise<string[]> {
  return JSON.stringify(await pipelineEvent({ project: 'group/web', id: PLACEHOLDER })).split(String(PLACEHOLDER));
}

async function load(url: string, parts: string[], label: string, options: { connections: number; durationS: number; rate?: number }): Promise<LoadResult> {
  let next = 1_000_000;
  const latencies: number[] = [];
  const instance = autocannon({
    url,
    connections: options.connections,
    duration: options.durationS,
    timeout: 10,
    ...(options.rate ? { overallRate: options.rate } : {}),
    requests: [
      {
        method: 'POST',
        path: '/webhooks/gitlab',
        headers: { 'content-type': 'application/json', 'x-gitlab-event': 'Pipeline Hook', 'x-gitlab-token': WEBHOOK_SECRET },
        setupRequest: (request) => {
          const id = next++;
          return { ...request, headers: { ...request.headers, 'idempotency-key': `bench-${label}-${id}` }, body: parts.join(String(id)) };
        },
      },
    ],
  });
  instance.on('response', (_client: unknown, _status: number, _bytes: number, ms: number) => latencies.push(ms));
  const result = await instance;
  const status = Object.fromEntries(Object.entries(result.statusCodeStats).map(([code, s]) => [code, s.count]));
  const completed = Object.values(status).reduce((a, b) => a + b, 0);
  return {
    phase: label,
    tool: 'autocannon',
    connections: options.connections,
    targetRate: options.rate ?? null,
    durationS: result.duration,
    requests: completed,
    rps: round(completed / result.duration),
    latencyMs: summarize(latencies),
    status,
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
  };
}

/**
 * An open-loop load at a uniform rate: request i is due at start + i/rate and is sent then, whatever the
 * earlier ones are doing (up to `sockets` keep-alive connections, beyond that node's agent queues them).
 * Latency counts from the due time, so a stall shows in full (no coordinated omission). This is what
 * "500 req/s" means for webhooks; autocannon's overallRate sends each connection's quota for the second
 * back to back at the top of each second instead.
 */
export async function uniformLoad(url: string, parts: string[], label: string, options: { rate: number; durationS: number; sockets: number }): Promise<LoadResult> {
  const target = new URL(url);
  const agent = new Agent({ keepAlive: true, maxSockets: options.sockets });
  const total = Math.round(options.rate * options.durationS);
  const interval = 1000 / options.rate;
  const latencies: number[] = [];
  const status: Record<string, number> = {};
  let errors = 0;
  let timeouts = 0;
  let next = 2_000_000;
  const inflight = new Set<Promise<void>>();
  const fire = (due: number) => {
    const id = next++;
    const body = parts.join(String(id));
    const done = new Promise<void>((resolve) => {
      const req = request(
        {
          agent,
          host: target.hostname,
          port: target.port,
          method: 'POST',
          path: '/webhooks/gitlab',
          timeout: 10_000,
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
            'x-gitlab-event': 'Pipeline Hook',
            'x-gitlab-token': WEBHOOK_SECRET,
            'idempotency-key': `bench-${label}-${id}`,
          },
        },
        (res) => {
          res.resume();
          res.once('end', () => {
            latencies.push(performance.now() - due);
            status[String(res.statusCode)] = (status[String(res.statusCode)] ?? 0) + 1;
            resolve();
          });
        },
      );
      req.once('timeout', () => {
        timeouts++;
        req.destroy(new Error('timeout'));
      });
      req.once('error', () => {
        errors++;
        resolve();
      });
      req.end(body);
    });
    inflight.add(done);
    void done.then(() => inflight.delete(done));
  };
  const start = performance.now();
  let i = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      while (i < total && start + i * interval <= now) fire(start + i++ * interval);
      if (i >= total) return resolve();
      setTimeout(tick, Math.max(0, start + i * interval - performance.now()));
    };
    tick();
  });
  await Promise.all(inflight);
  const durationS = (performance.now() - start) / 1000;
  agent.destroy();
  const completed = Object.values(status).reduce((a, b) => a + b, 0);
  const non2xx = Object.entries(status).filter(([code]) => !code.startsWith('2')).reduce((a, [, n]) => a + n, 0);
  return {
    phase: label,
    tool: 'uniform',
    connections: options.sockets,
    targetRate: options.rate,
    durationS: round(durationS, 2),
    requests: completed,
    rps: round(completed / durationS),
    latencyMs: summarize(latencies),
    status,
    errors,
    timeouts,
    non2xx,
  };
}

async function countJobs(redisUrl: string, name: string, prefix: string): Promise<number> {
  const queue = new Queue(name, { connection: { url: redisUrl }, prefix });
  try {
    const counts = await queue.getJobCounts('wait', 'active', 'completed', 'failed', 'delayed', 'prioritized', 'waiting-children');
    return Object.values(counts).reduce((a, b) => a + b, 0);
  } finally {
    await queue.close();
  }
}

/**
 * Scenario 1: webhook intake. The service runs with HOIST_ROLE=web (no worker: jobs pile up in Redis,
 * no git work competes for the CPU), then the floor in its place; each gets a warm-up, 500 req/s for
 * `durationS`, then saturation with `connections` connections for `durationS`. Redis is flushed before each.
 */
export async function intakeScenario(ctx: BenchContext): Promise<IntakeResult> {
  const durationS = ctx.quick ? 5 : 30;
  const connections = 50;
  const repo = await createSyntheticGitops(['web']);
  ctx.defer(() => repo.cleanup());
  const parts = await bodyParts();
  const targets: IntakeTarget[] = [];
  const starters: Array<{ name: string; start: () => Promise<HoistProcess>; queue: [string, string] }> = [
    {
      name: 'hoist',
      start: () => ctx.startHoist({ name: '1 intake', scenario: '1 intake', configText: appsConfig(repo.url, ['web']), role: 'web' }),
      queue: [PROMOTION_QUEUE, 'hoist'],
    },
    { name: 'floor', start: () => ctx.startFloor('1 intake'), queue: ['floor', 'floor'] },
  ];
  for (const target of starters) {
    await ctx.flushRedis();
    const service = await target.start();
    ctx.log(`1 intake: ${target.name}: warm-up, then ${durationS} s at 500 req/s (autocannon), ${durationS} s at 500 req/s (uniform), ${durationS} s at saturation`);
    const warmup = await load(service.url, parts, `${target.name}-warmup`, { connections, durationS: ctx.quick ? 1 : 3, rate: 500 });
    const fixed = await load(service.url, parts, `${target.name}-fixed`, { connections, durationS, rate: 500 });
    const uniform = await uniformLoad(service.url, parts, `${target.name}-uniform`, { rate: 500, durationS, sockets: connections });
    const saturated = await load(service.url, parts, `${target.name}-saturation`, { connections, durationS });
    const jobsStored = await countJobs(ctx.redis.url, ...target.queue);
    const mem = await service.finish();
    const accepted = [warmup, fixed, uniform, saturated].reduce((n, r) => n + (r.status['202'] ?? 0), 0);
    targets.push({ name: target.name, phases: [fixed, uniform, saturated], jobsStored, accepted, peakRssMiB: mem.peakMiB });
    ctx.log(
      `1 intake: ${target.name}: 500 req/s p99 ${fixed.latencyMs.p99} ms (autocannon), ${uniform.latencyMs.p99} ms (uniform); ${saturated.rps} req/s at saturation`,
    );
  }
  let profile: IntakeResult['profile'];
  if (!ctx.flags.has('--no-profile')) {
    // Where a saturated intake spends its CPU: a separate run, so the profiler does not touch the figures above.
    await ctx.flushRedis();
    const dir = join(ctx.root, 'cpuprofile-intake');
    await mkdir(dir, { recursive: true });
    const service = await ctx.startHoist({
      name: '1 intake profiled',
      scenario: '1 intake',
      configText: appsConfig(repo.url, ['web']),
      role: 'web',
      nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${dir}`],
    });
    const profileS = ctx.quick ? 3 : 10;
    ctx.log(`1 intake: hoist with --cpu-prof: warm-up, then ${profileS} s at saturation`);
    await load(service.url, parts, 'profile-warmup', { connections, durationS: ctx.quick ? 1 : 3 });
    const fromUs = monotonicUs();
    const run = await load(service.url, parts, 'profile', { connections, durationS: profileS });
    const toUs = monotonicUs();
    await service.finish();
    profile = { rps: run.rps, durationS: run.durationS, summary: await summarizeProfile(dir, ctx.serviceRoot, { window: { fromUs, toUs } }) };
  }
  await ctx.flushRedis();
  return { role: 'web', bodyBytes: Buffer.byteLength(parts.join('1000000')), targets, profile };
}
