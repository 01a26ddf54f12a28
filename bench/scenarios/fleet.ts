import { mkdir } from 'node:fs/promises';
import { cpus } from 'node:os';
import { Redis } from 'ioredis';
import { join } from 'node:path';
import { createSyntheticGitops, type TempGitops } from '../../test/helpers/git-repos.js';
import { API_TOKEN, WEBHOOK_SECRET } from '../../test/helpers/hoist.js';
import type { BenchContext } from '../lib/context.js';
import { countCommits, readHead, showFile, tagsIn, waitForHead, webhookSender, type WebhookSender } from '../lib/gitops.js';
import { summarizeProfile, type ProfileSummary } from '../lib/profile.js';
import { profileTables, type Goal } from '../lib/report.js';
import { sleep } from '../lib/processes.js';
import { fmt, markdownTable, round, summarize, type Summary } from '../lib/stats.js';

/** Closed-loop promotions: one sender per repo, each waiting for its commit before the next webhook. */
export interface FleetLoop {
  repos: number;
  promotions: number;
  lost: number;
  durationMs: number;
  /** Commits landed per second, all repos together. */
  perSecond: number;
  /** 202 answer → commit visible on its repo's branch. */
  fromAnswer: Summary;
  /** Redis commands the service sent per promotion (INFO's total_commands_processed, bench's own reads left out). */
  redisCommandsPerPromotion: number;
}

/** Open-loop load: every repo gets webhooks at a steady rate at once, as a fleet's pipelines finish. */
export interface FleetBusy {
  repos: number;
  ratePerRepo: number;
  promotions: number;
  lost: number;
  commits: number;
  /** 202 answer → the promotion's tag visible on its repo's branch. */
  fromAnswer: Summary;
}

export interface FleetBurst {
  webhooks: number;
  accepted: number;
  spreadMs: number;
  /** First webhook sent → every tag on its repo's branch; null when some never landed. */
  allLandedMs: number | null;
  landed: number;
  lost: number;
  commitsPerRepo: number[];
}

export interface FleetResult {
  repos: number;
  appsPerRepo: number;
  environments: number;
  cores: number;
  /** Processes: one web, `workers` workers. */
  workers: number;
  /** Throughput and latency with 1, `cores` and all repos busy (closed loops). */
  loops: FleetLoop[];
  /** Steady loads on every repo: one the machine can carry, one beyond its commits/s (saturation). */
  busy: FleetBusy[];
  burst: FleetBurst;
  /** With --profile-fleet: where the service's CPU time went over the whole scenario. */
  profile?: ProfileSummary | undefined;
}

const REPOS = 10;
const APPS_PER_REPO = 100;
const OVERLAY = 'overlays/dev/kustomization.yaml';

const repoName = (r: number) => `team-${r}`;
const appName = (r: number, a: number) => `t${r}-app-${String(a).padStart(3, '0')}`;
const imageOf = (app: string) => `registry.example.com/group/${app}`;

/** 10 repositories, each its team's 100 apps × dev/staging/prod; dev takes every pipeline. */
function fleetConfig(repos: readonly TempGitops[]): string {
  const lines = [
    'gitops:',
    '  repos:',
    ...repos.map((repo, r) => `    ${repoName(r)}: { url: "${repo.url}", branch: main }`),
    `gitlab: { webhookSecret: ${WEBHOOK_SECRET} }`,
    `api: { token: ${API_TOKEN} }`,
    'environments:',
    `  - { name: dev, path: overlays/dev, promotion: auto, repo: ${repoName(0)} }`,
    `  - { name: staging, path: overlays/staging, from: dev, promotion: manual, repo: ${repoName(0)} }`,
    `  - { name: prod, path: overlays/prod, from: staging, promotion: manual, repo: ${repoName(0)} }`,
    'apps:',
  ];
  for (let r = 0; r < repos.length; r++) {
    const where = r === 0 ? '' : `, repos: { dev: ${repoName(r)}, staging: ${repoName(r)}, prod: ${repoName(r)} }`;
    for (let a = 0; a < APPS_PER_REPO; a++) {
      const app = appName(r, a);
      lines.push(`  - { name: ${app}, project: group/${app}, image: ${imageOf(app)}, tag: "p$CI_PIPELINE_ID"${where} }`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** Waits until `when` (performance.now() ms) without drifting: the burst's schedule is absolute. */
async function until(when: number): Promise<void> {
  const wait = when - performance.now();
  if (wait > 0) await sleep(wait);
}

async function commandsProcessed(redis: Redis): Promise<number> {
  return Number(/total_commands_processed:(\d+)/.exec(await redis.info('stats'))?.[1] ?? Number.NaN);
}

async function closedLoop(ctx: BenchContext, sender: WebhookSender, repos: readonly TempGitops[], count: number, perRepo: number, firstId: number): Promise<FleetLoop> {
  const redis = new Redis(ctx.redis.url);
  const commandsBefore = await commandsProcessed(redis);
  const latencies: number[] = [];
  let lost = 0;
  const t0 = performance.now();
  await Promise.all(
    repos.slice(0, count).map(async (repo, r) => {
      for (let i = 0; i < perRepo; i++) {
        const id = firstId + r * 1_000 + i;
        const app = appName(r, i % APPS_PER_REPO);
        const before = readHead(repo.bare);
        const answer = await sender.send(`group/${app}`, id);
        if (answer.status !== 202) throw new Error(`8 fleet: webhook answered ${answer.status}: ${answer.body}`);
        // One promotion in flight per repo: the next head of this repo is this promotion's commit.
        const seen = await waitForHead(repo.bare, before, () => true, 30_000);
        if (!seen || tagsIn(showFile(repo.bare, seen.head, OVERLAY)).get(imageOf(app)) !== `p${id}`) {
          lost++;
          continue;
        }
        latencies.push(seen.at - answer.answeredAt);
      }
    }),
  );
  const durationMs = performance.now() - t0;
  // The two INFO calls are the bench's own commands.
  const commands = (await commandsProcessed(redis)) - commandsBefore - 2;
  redis.disconnect();
  const result = {
    repos: count,
    promotions: latencies.length,
    lost,
    durationMs: round(durationMs),
    perSecond: round((latencies.length / durationMs) * 1000, 1),
    fromAnswer: summarize(latencies),
    redisCommandsPerPromotion: latencies.length ? round(commands / latencies.length, 0) : Number.NaN,
  };
  ctx.log(`8 fleet: ${count} busy repo(s): ${result.perSecond} commits/s, p50 ${result.fromAnswer.p50} ms, ${result.redisCommandsPerPromotion} Redis commands per promotion, ${lost} lost`);
  return result;
}

/** Resolves when a repo's overlay shows an app at a tag: one poller per repo, reading the ref file every millisecond. */
function repoWatcher(repo: TempGitops) {
  const waiting = new Map<string, { tag: string; resolve: (at: number | undefined) => void }>();
  let head = readHead(repo.bare);
  let running = false;
  const poll = async () => {
    running = true;
    while (waiting.size > 0) {
      const now = readHead(repo.bare);
      if (now !== head) {
        const at = performance.now();
        head = now;
        const tags = tagsIn(showFile(repo.bare, now, OVERLAY));
        for (const [app, w] of waiting) {
          if (tags.get(imageOf(app)) === w.tag) {
            waiting.delete(app);
            w.resolve(at);
          }
        }
      }
      await sleep(1);
    }
    running = false;
  };
  return {
    waitFor(app: string, tag: string, timeoutMs: number): Promise<number | undefined> {
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          waiting.delete(app);
          resolve(undefined);
        }, timeoutMs);
        waiting.set(app, { tag, resolve: (at) => (clearTimeout(timer), resolve(at)) });
        if (!running) void poll();
      });
    },
  };
}

async function busyFleet(ctx: BenchContext, sender: WebhookSender, repos: readonly TempGitops[], perRepo: number, ratePerRepo: number, firstId: number): Promise<FleetBusy> {
  const watchers = repos.map(repoWatcher);
  const heads = repos.map((repo) => readHead(repo.bare));
  const intervalMs = 1000 / ratePerRepo;
  const latencies: number[] = [];
  let lost = 0;
  const t0 = performance.now();
  await Promise.all(
    repos.flatMap((_, r) =>
      Array.from({ length: perRepo }, async (_, i) => {
        // Repos staggered across the interval, so arrivals are spread as independent pipelines' would be.
        await until(t0 + i * intervalMs + (r * intervalMs) / repos.length);
        const id = firstId + r * 1_000 + i;
        const app = appName(r, i % APPS_PER_REPO);
        const seen = watchers[r]!.waitFor(app, `p${id}`, 30_000);
        const answer = await sender.send(`group/${app}`, id);
        const at = await seen;
        if (answer.status !== 202 || at === undefined) lost++;
        else latencies.push(at - answer.answeredAt);
      }),
    ),
  );
  const result = { repos: repos.length, ratePerRepo, promotions: latencies.length, lost, commits: repos.reduce((n, repo, r) => n + countCommits(repo.bare, heads[r]!), 0), fromAnswer: summarize(latencies) };
  ctx.log(`8 fleet: ${repos.length} busy repos at ${ratePerRepo}/s each: p50 ${result.fromAnswer.p50} ms, ${result.commits} commits, ${lost} lost`);
  return result;
}

/**
 * Scenario 8: a fleet. 10 GitOps repos × 100 apps × 3 environments in one install: one web process and a worker
 * per core.
 * Closed-loop promotions with 1, `cores` and 10 repos (throughput: commits/s as repos are added; one repo's p50
 * is the reference), a steady load on all 10 repos at once (pipeline → commit p50 with every repo busy), then a
 * burst of 1,000 Pipeline Hooks spread over the 10 repos.
 */
export async function fleetScenario(ctx: BenchContext): Promise<FleetResult> {
  const cores = cpus().length;
  const perRepo = ctx.quick ? 10 : 30;
  const repos: TempGitops[] = [];
  for (let r = 0; r < REPOS; r++) {
    const repo = await createSyntheticGitops(Array.from({ length: APPS_PER_REPO }, (_, a) => appName(r, a)));
    ctx.defer(() => repo.cleanup());
    repos.push(repo);
  }
  await ctx.flushRedis();
  const profDir = join(ctx.root, 'cpuprofile-fleet');
  const profiled = ctx.flags.has('--profile-fleet');
  if (profiled) await mkdir(profDir, { recursive: true });
  // As a fleet runs it: one web process, one worker per core (a Node process is one thread; the workers share the
  // per-repo write locks, so different repos commit in parallel across them).
  const configText = fleetConfig(repos);
  const web = await ctx.startHoist({ name: '8 fleet web', scenario: '8 fleet', configText, role: 'web' });
  const workers = [];
  for (let w = 0; w < cores; w++) {
    workers.push(await ctx.startHoist({ name: `8 fleet worker ${w + 1}`, scenario: '8 fleet', configText, role: 'worker', nodeArgs: profiled && w === 0 ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : undefined }));
  }
  const sender = webhookSender(web.url);

  // Warm-up: one promotion per repo, so every working clone and render cache exists, as in a running service.
  ctx.log(`8 fleet: warming ${REPOS} repos`);
  await closedLoop(ctx, sender, repos, REPOS, 1, 1_000);

  const counts = [...new Set([1, Math.min(cores, REPOS), REPOS])];
  const loops: FleetLoop[] = [];
  for (const [i, count] of counts.entries()) loops.push(await closedLoop(ctx, sender, repos, count, perRepo, 100_000 * (i + 1)));

  // 0.5/s per repo is 5 promotions/s in all, about a third of what the closed loops commit here; 2/s per repo is
  // beyond it (every promotion then waits behind others for a core).
  const busy = [await busyFleet(ctx, sender, repos, ctx.quick ? 5 : 15, 0.5, 500_000), await busyFleet(ctx, sender, repos, ctx.quick ? 10 : 30, 2, 600_000)];

  // The burst: 100 webhooks per repo, 1,000 in all, one every millisecond, repos interleaved.
  const webhooks = REPOS * APPS_PER_REPO;
  const spreadMs = 1_000;
  const firstId = 900_000;
  const heads = repos.map((repo) => readHead(repo.bare));
  const order = Array.from({ length: webhooks }, (_, i) => ({ r: i % REPOS, a: Math.floor(i / REPOS) }));
  ctx.log(`8 fleet: burst of ${webhooks} webhooks over ${spreadMs} ms across ${REPOS} repos`);
  const t0 = performance.now();
  const answers = await Promise.all(
    order.map(async ({ r, a }, i) => {
      await until(t0 + (i * spreadMs) / webhooks);
      return sender.send(`group/${appName(r, a)}`, firstId + i);
    }),
  );
  const expected = (r: number, a: number) => `p${firstId + a * REPOS + r}`;
  const landedIn = (r: number, head: string) => {
    const tags = tagsIn(showFile(repos[r]!.bare, head, OVERLAY));
    return Array.from({ length: APPS_PER_REPO }, (_, a) => tags.get(imageOf(appName(r, a))) === expected(r, a)).filter(Boolean).length;
  };
  const done = await Promise.all(repos.map((repo, r) => waitForHead(repo.bare, heads[r]!, (head) => landedIn(r, head) === APPS_PER_REPO, 60_000)));
  const landed = repos.reduce((sum, repo, r) => sum + landedIn(r, readHead(repo.bare)), 0);
  const burst: FleetBurst = {
    webhooks,
    accepted: answers.filter((a) => a.status === 202).length,
    spreadMs,
    allLandedMs: done.every(Boolean) ? round(Math.max(...done.map((d) => d!.at)) - t0) : null,
    landed,
    lost: webhooks - landed,
    commitsPerRepo: repos.map((repo, r) => countCommits(repo.bare, heads[r]!)),
  };
  ctx.log(`8 fleet: burst landed after ${burst.allLandedMs} ms, commits per repo ${burst.commitsPerRepo.join(' ')}, ${burst.lost} lost`);
  for (const worker of workers) await worker.finish();
  await web.finish();
  const profile = profiled ? await summarizeProfile(profDir, ctx.serviceRoot, { topN: 25 }) : undefined;
  return { repos: REPOS, appsPerRepo: APPS_PER_REPO, environments: 3, cores, workers: workers.length, loops, busy, burst, profile };
}

export function fleetTables(r: FleetResult): string {
  const single = r.loops[0];
  return [
    markdownTable(
      ['busy repos', 'promotions', 'lost', 'commits/s', '× one repo', 'p50 ms (202 → commit)', 'p90 ms', '× one repo', 'Redis commands per promotion'],
      r.loops.map((l) => [
        String(l.repos),
        String(l.promotions),
        String(l.lost),
        fmt(l.perSecond),
        single ? `${fmt(l.perSecond / single.perSecond, 2)}×` : '–',
        fmt(l.fromAnswer.p50),
        fmt(l.fromAnswer.p90),
        single ? `${fmt(l.fromAnswer.p50 / single.fromAnswer.p50, 2)}×` : '–',
        fmt(l.redisCommandsPerPromotion, 0),
      ]),
      [false, true, true, true, true, true, true, true, true],
    ),
    '',
    markdownTable(
      ['steady load', 'promotions', 'lost', 'commits', 'p50 ms (202 → commit)', 'p90 ms', 'p99 ms', '× one repo idle'],
      r.busy.map((b) => [`${b.repos} repos × ${b.ratePerRepo} webhooks/s`, String(b.promotions), String(b.lost), String(b.commits), fmt(b.fromAnswer.p50), fmt(b.fromAnswer.p90), fmt(b.fromAnswer.p99), single ? `${fmt(b.fromAnswer.p50 / single.fromAnswer.p50, 2)}×` : '–']),
      [false, true, true, true, true, true, true, true],
    ),
    '',
    markdownTable(
      ['burst', 'accepted', 'landed', 'lost', 'all landed after', 'commits per repo'],
      [[`${r.burst.webhooks} webhooks over ${r.burst.spreadMs} ms, ${r.repos} repos`, String(r.burst.accepted), String(r.burst.landed), String(r.burst.lost), r.burst.allLandedMs === null ? 'never (60 s)' : `${fmt(r.burst.allLandedMs, 0)} ms`, r.burst.commitsPerRepo.join(' ')]],
      [false, true, true, true, true, false],
    ),
    ...(r.profile ? ['', profileTables(r.profile, 'worker 1, over the whole scenario (--profile-fleet)')] : []),
  ].join('\n');
}

export function fleetGoals(r: FleetResult | undefined): Goal[] {
  if (!r) return [];
  const single = r.loops[0];
  const all = r.loops[r.loops.length - 1];
  const atCores = r.loops.find((l) => l.repos === Math.min(r.cores, r.repos));
  const maxCommits = Math.max(...r.burst.commitsPerRepo);
  const [carried, saturated] = r.busy;
  const ratioOf = (b: FleetBusy | undefined) => (single && b ? b.fromAnswer.p50 / single.fromAnswer.p50 : Number.NaN);
  const ratio = ratioOf(carried);
  const scaling = single && atCores ? atCores.perSecond / single.perSecond : Number.NaN;
  return [
    {
      scenario: '8 fleet',
      goal: `${r.burst.webhooks} webhooks over ${r.repos} repos land in < 10 s, ≤ 10 commits per repo, none lost`,
      measured: `${r.burst.allLandedMs === null ? 'not all landed' : `${fmt(r.burst.allLandedMs, 0)} ms`}, at most ${maxCommits} commits per repo, ${r.burst.lost} lost`,
      met: r.burst.allLandedMs !== null && r.burst.allLandedMs < 10_000 && maxCommits <= 10 && r.burst.lost === 0,
    },
    {
      scenario: '8 fleet',
      goal: `p50 with ${r.repos} busy repos ≤ 1.5 × one repo (same run)`,
      measured: `${fmt(carried?.fromAnswer.p50)} ms (${carried?.repos} repos × ${carried?.ratePerRepo}/s, ${carried?.lost} lost) vs ${fmt(single?.fromAnswer.p50)} ms: ${fmt(ratio, 2)}×; beyond capacity (× ${saturated?.ratePerRepo}/s): ${fmt(ratioOf(saturated), 2)}×`,
      met: Number.isFinite(ratio) ? ratio <= 1.5 && carried?.lost === 0 : null,
    },
    {
      scenario: '8 fleet',
      goal: `throughput near-linear in repos up to the cores (${r.cores})`,
      measured: `${atCores?.repos ?? '–'} repos: ${fmt(scaling, 2)}× one repo's commits/s (linear: ${atCores?.repos ?? '–'}×); ${r.repos} repos: ${single && all ? fmt(all.perSecond / single.perSecond, 2) : '–'}×`,
      met: atCores && atCores.repos > 1 ? scaling >= 0.8 * atCores.repos : null,
    },
  ];
}
