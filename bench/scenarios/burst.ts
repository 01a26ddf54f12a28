import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createSyntheticGitops } from '../../test/helpers/git-repos.js';
import { API_TOKEN, appsConfig } from '../../test/helpers/hoist.js';
import type { BenchContext } from '../lib/context.js';
import { countCommits, gitOut, readHead, showFile, tagsIn, waitForHead, webhookSender } from '../lib/gitops.js';
import { readTimingLog, scriptEnv, SCRIPTS } from '../lib/promotions.js';
import { timedRender } from './pipeline.js';
import { sleep } from '../lib/processes.js';
import { round, summarize, type Summary } from '../lib/stats.js';

export interface BurstHoist {
  webhooks: number;
  accepted: number;
  /** first webhook sent → every tag on the remote branch; null when some never landed. */
  allLandedMs: number | null;
  /** last 202 → every tag on the remote branch. */
  afterLastAnswerMs: number | null;
  landed: number;
  lost: number;
  commits: number;
  /** Commits seen on the branch, in order: how many promotions each carried. */
  batchSizes: number[];
  states: Record<string, number>;
  /** When each commit was pushed (the service's log), ms after the first webhook. */
  pushedAtMs: number[];
  /** Render checks run during the burst (kubectl kustomize of the 100-app overlay) and their durations. */
  renders: number;
  renderMs: Summary;
  intakeMs: Summary;
  peakRssMiB: number;
}

export interface BurstBaseline {
  jobs: number;
  succeeded: number;
  failedPushes: number;
  otherFailures: number;
  landed: number;
  lost: number;
  commits: number;
  /** first job started → last job ended. */
  lastJobEndedMs: number;
  /** first job started → last successful push. */
  lastSuccessMs: number | null;
  jobMs: Summary;
  sampleError: string | undefined;
}

export interface BurstResult {
  apps: number;
  spreadMs: number;
  hoist: BurstHoist;
  baseline: BurstBaseline;
}

const OVERLAY_FILE = 'overlays/dev/kustomization.yaml';

/** Waits until `when` (performance.now() ms) without drifting: the burst's schedule is absolute. */
async function until(when: number): Promise<void> {
  const wait = when - performance.now();
  if (wait > 0) await sleep(wait);
}

/**
 * Scenario 3: 100 apps' pipelines finish within one second: 100 webhooks, one every 10 ms, each for a
 * different app of one synthetic repo. Then the same 100 promotions as 100 naive CI jobs started on the
 * same schedule (fresh clone, kustomize edit, commit, push, no retry).
 */
export async function burstScenario(ctx: BenchContext): Promise<BurstResult> {
  const count = 100;
  const spreadMs = 1_000;
  const apps = Array.from({ length: count }, (_, i) => `app-${String(i).padStart(3, '0')}`);
  const images = apps.map((a) => `registry.example.com/group/${a}`);
  const landedCount = (bare: string, expected: (i: number) => string) => {
    const tags = tagsIn(showFile(bare, 'main', OVERLAY_FILE));
    return images.filter((image, i) => tags.get(image) === expected(i)).length;
  };

  // Hoist
  const repo = await createSyntheticGitops(apps);
  ctx.defer(() => repo.cleanup());
  await ctx.flushRedis();
  // The render check runs through the timing wrapper (~2 ms of bash per run) to count and time renders.
  const renderLog = join(ctx.root, 'burst-render.log');
  const service = await ctx.startHoist({
    name: '3 burst',
    scenario: '3 burst',
    configText: appsConfig(repo.url, apps),
    role: 'all',
    env: { HOIST_KUSTOMIZE: timedRender('kubectl kustomize'), BENCH_TIMING_LOG: renderLog, BENCH_TIMING_LABEL: 'render' },
  });
  const sender = webhookSender(service.url);
  // Warm-up: one promotion so the working clone exists and kustomize is found, as in a running service.
  const warmHead = readHead(repo.bare);
  const warm = await sender.send('group/app-000', 1);
  if (warm.status !== 202) throw new Error(`3 burst: warm-up webhook answered ${warm.status}: ${warm.body}`);
  const warmed = await waitForHead(repo.bare, warmHead, () => true, 60_000);
  if (!warmed) throw new Error('3 burst: the warm-up promotion did not land within 60 s');
  const before = warmed.head;
  ctx.log(`3 burst: hoist: ${count} webhooks over ${spreadMs} ms`);
  const expected = (i: number) => `p${10_000 + i}`;
  const t0 = performance.now();
  const answers = await Promise.all(
    apps.map(async (app, i) => {
      await until(t0 + (i * spreadMs) / count);
      return sender.send(`group/${app}`, 10_000 + i);
    }),
  );
  const accepted = answers.filter((a) => a.status === 202).length;
  const lastAnswer = Math.max(...answers.map((a) => a.answeredAt));
  const all = await waitForHead(repo.bare, before, (head) => {
    const tags = tagsIn(showFile(repo.bare, head, OVERLAY_FILE));
    return images.every((image, i) => tags.get(image) === expected(i));
  }, 60_000);
  const landed = landedCount(repo.bare, expected);
  const batchSizes = readBatchSizes(repo.bare, before);
  const states: Record<string, number> = {};
  for (const answer of answers) {
    const id = (JSON.parse(answer.body) as { promotions?: Array<{ id: string }> }).promotions?.[0]?.id;
    const res = id ? await fetch(`${service.url}/api/promotions/${id}`, { headers: { Authorization: `Bearer ${API_TOKEN}` } }) : undefined;
    const state = res?.ok ? ((await res.json()) as { state: string }).state : `http ${res?.status ?? 'none'}`;
    states[state] = (states[state] ?? 0) + 1;
  }
  const mem = await service.finish();
  const t0Epoch = performance.timeOrigin + t0;
  const renders = (await readTimingLog(renderLog)).filter((l) => l.label === 'render' && l.startMs >= t0Epoch);
  const pushedAt = (await readFile(service.logFile, 'utf8'))
    .split('\n')
    .flatMap((line) => {
      try {
        const entry = JSON.parse(line) as { msg?: string; time?: number; commit?: string };
        return entry.msg === 'pushed GitOps commit' && entry.time !== undefined && entry.commit !== before ? [round(entry.time - t0Epoch, 0)] : [];
      } catch {
        return [];
      }
    });
  const hoist: BurstHoist = {
    webhooks: count,
    accepted,
    allLandedMs: all ? round(all.at - t0) : null,
    afterLastAnswerMs: all ? round(all.at - lastAnswer) : null,
    landed,
    lost: count - landed,
    commits: countCommits(repo.bare, before),
    batchSizes,
    states,
    pushedAtMs: pushedAt,
    renders: renders.length,
    renderMs: summarize(renders.map((l) => l.endMs - l.startMs)),
    intakeMs: summarize(answers.map((a) => a.answeredAt - a.sentAt)),
    peakRssMiB: mem.peakMiB,
  };
  ctx.log(`3 burst: hoist: all landed after ${hoist.allLandedMs} ms in ${hoist.commits} commits, ${hoist.lost} lost`);

  // Baseline: 100 naive jobs on the same schedule.
  const baseRepo = await createSyntheticGitops(apps);
  ctx.defer(() => baseRepo.cleanup());
  const baseBefore = readHead(baseRepo.bare);
  const work = await mkdtemp(join(ctx.root, 'burst-baseline-'));
  ctx.log(`3 burst: baseline: ${count} concurrent shell jobs over ${spreadMs} ms`);
  const b0 = performance.now();
  const jobs = await Promise.all(
    apps.map(async (app, i) => {
      await until(b0 + (i * spreadMs) / count);
      const started = performance.now();
      const { code, stderr } = await runScript(
        [join(SCRIPTS, 'baseline-promote.sh'), baseRepo.url, join(work, app), 'overlays/dev', `registry.example.com/group/${app}`, expected(i)],
        scriptEnv(),
      );
      return { code, stderr, started, ended: performance.now() };
    }),
  );
  await rm(work, { recursive: true, force: true });
  const ok = jobs.filter((j) => j.code === 0);
  const failed = jobs.filter((j) => j.code !== 0);
  const pushRejected = failed.filter((j) => /rejected|failed to push|fetch first|non-fast-forward|cannot lock ref|incorrect old value/i.test(j.stderr));
  const baseLanded = landedCount(baseRepo.bare, expected);
  const baseline: BurstBaseline = {
    jobs: count,
    succeeded: ok.length,
    failedPushes: pushRejected.length,
    otherFailures: failed.length - pushRejected.length,
    landed: baseLanded,
    lost: count - baseLanded,
    commits: countCommits(baseRepo.bare, baseBefore),
    lastJobEndedMs: round(Math.max(...jobs.map((j) => j.ended)) - b0),
    lastSuccessMs: ok.length ? round(Math.max(...ok.map((j) => j.ended)) - b0) : null,
    jobMs: summarize(jobs.map((j) => j.ended - j.started)),
    sampleError: (pushRejected[0] ?? failed[0])?.stderr.trim().split('\n').slice(0, 3).join(' | '),
  };
  ctx.log(`3 burst: baseline: ${baseline.succeeded}/${count} pushed, ${baseline.failedPushes} rejected pushes, ${baseline.lost} lost`);
  return { apps: count, spreadMs, hoist, baseline };
}

/** Promotions per Hoist commit since `from`, oldest first (counted from its Hoist-App trailers). */
function readBatchSizes(bare: string, from: string): number[] {
  return gitOut(bare, 'log', '--format=%B%x1e', `${from}..main`)
    .split('\x1e')
    .filter((m) => m.trim() !== '')
    .map((m) => (m.match(/^Hoist-App: /gm) ?? []).length)
    .reverse();
}

function runScript(args: string[], env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('bash', args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', (error) => resolve({ code: -1, stderr: error.message }));
    child.once('close', (code) => resolve({ code, stderr }));
  });
}
