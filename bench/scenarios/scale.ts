import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { API_TOKEN, appsConfig } from '../../test/helpers/hoist.js';
import type { BenchContext } from '../lib/context.js';
import { readHead, showFile, tagsIn, waitForHead, webhookSender } from '../lib/gitops.js';
import { baseEnv, sleep, timed } from '../lib/processes.js';
import { epochToMonotonicUs, summarizeProfile, type ProfileSummary } from '../lib/profile.js';
import { breakdown, readTimingLog, scriptEnv, SCRIPTS, sequentialPromotions, type Breakdown, type SequentialResult } from '../lib/promotions.js';
import { gitTimingWrapper, timedRender } from './pipeline.js';
import { round } from '../lib/stats.js';
import { createScaleRepo } from '../lib/scale-repo.js';

export interface RealRenderAttempt {
  /** Whether the promotion landed within the wait. */
  landed: boolean;
  waitedMs: number;
  state: string | undefined;
  error: string | undefined;
  peakRssMiB: number;
}

export interface ScaleResult {
  apps: number;
  environments: number;
  commits: number;
  generateMs: number;
  packMiB: number;
  /** Hoist with the render check replaced by a stub, to see how its own work grows with the repo. */
  stubRender: SequentialResult;
  /** The stub pass again under --cpu-prof with git and the render timed. */
  stubRenderProfiled: SequentialResult & { breakdown: Breakdown; profile: ProfileSummary | undefined };
  /** Hoist as shipped (kubectl kustomize render check), one promotion, bounded wait. */
  realRender: RealRenderAttempt;
  /** `kubectl kustomize overlays/dev` of this repo, run once by itself (null: skipped for time). */
  directRenderMs: number | null;
  directRenderTimedOut: boolean;
}

const APP_INDEX = 500;

/**
 * Scenario 4: a GitOps repo with 1,000 apps × 3 environments and 10,000 commits of history (made with
 * git fast-import), then sequential promotions of one app as in scenario 2.
 */
export async function scaleScenario(ctx: BenchContext): Promise<ScaleResult> {
  const appCount = 1_000;
  const commitCount = ctx.quick ? 2_000 : 10_000;
  const runs = ctx.quick ? 15 : 50;
  const root = await mkdtemp(join(ctx.root, 'scale-'));
  ctx.defer(() => rm(root, { recursive: true, force: true }));
  ctx.log(`4 scale: generating ${appCount} apps × 3 environments, ${commitCount} commits with git fast-import`);
  const repo = await createScaleRepo(root, appCount, commitCount);
  ctx.log(`4 scale: generated in ${Math.round(repo.generateMs)} ms, pack ${(repo.packBytes / 1048576).toFixed(1)} MiB`);
  const app = repo.apps[APP_INDEX] as string;
  // All 1,000 apps are configured, as they would be.
  const configText = appsConfig(repo.url, repo.apps);
  const dataDir = await mkdtemp(join(ctx.root, 'data-scale-'));

  ctx.log(`4 scale: hoist with a stub render check, ${runs} sequential promotions of ${app}`);
  const stubRender = await sequentialPromotions(ctx, {
    name: '4 stub render',
    scenario: '4 scale',
    bare: repo.bare,
    configText,
    app,
    overlayFile: 'overlays/dev/kustomization.yaml',
    runs,
    firstPipelineId: 100_000,
    dataDir,
    env: { HOIST_KUSTOMIZE: `bash ${join(SCRIPTS, 'stub-render.sh')}` },
  });
  ctx.log(`4 scale: stub render p50 ${stubRender.fromAnswer.p50} ms (cold ${stubRender.coldMs} ms)`);

  // Where Hoist's own time goes at this size: the same, profiled, git and the stub render timed.
  const profRuns = ctx.quick ? 5 : 15;
  const timingLog = join(ctx.root, 'scale-timing.log');
  const profDir = join(ctx.root, 'cpuprofile-scale');
  await mkdir(profDir, { recursive: true });
  const wrapDir = await gitTimingWrapper(ctx, timingLog);
  ctx.log(`4 scale: diagnostics: --cpu-prof, git and render timed (${profRuns} runs)`);
  const profRun = await sequentialPromotions(ctx, {
    name: '4 stub render profiled',
    scenario: '4 scale',
    bare: repo.bare,
    configText,
    app,
    overlayFile: 'overlays/dev/kustomization.yaml',
    runs: profRuns,
    firstPipelineId: 150_000,
    dataDir,
    nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profDir}`],
    env: {
      PATH: `${wrapDir}:${process.env.PATH ?? '/usr/bin:/bin'}`,
      HOIST_KUSTOMIZE: timedRender(`bash ${join(SCRIPTS, 'stub-render.sh')}`),
      BENCH_TIMING_LOG: timingLog,
      BENCH_TIMING_LABEL: 'render',
    },
  });
  const first = profRun.samples[0];
  const last = profRun.samples[profRun.samples.length - 1];
  const profiled = {
    ...profRun,
    breakdown: breakdown(profRun.samples, await readTimingLog(timingLog)),
    profile: await summarizeProfile(profDir, ctx.serviceRoot, {
      window: first && last ? { fromUs: epochToMonotonicUs(first.sentEpochMs), toUs: epochToMonotonicUs(last.visibleEpochMs) } : undefined,
    }),
  };

  // As shipped: the same warm data dir, the real render check, one promotion, bounded wait.
  const waitS = ctx.quick ? 10 : 40;
  ctx.log(`4 scale: hoist as shipped (kubectl kustomize), one promotion, waiting up to ${waitS} s`);
  await ctx.flushRedis();
  const service = await ctx.startHoist({ name: '4 real render', scenario: '4 scale', configText, role: 'all', dataDir });
  const sender = webhookSender(service.url);
  const id = 200_000;
  const before = readHead(repo.bare);
  const answer = await sender.send(`group/${app}`, id);
  const promotionId = (JSON.parse(answer.body) as { promotions?: Array<{ id: string }> }).promotions?.[0]?.id;
  const image = `registry.example.com/group/${app}`;
  const seen = await waitForHead(repo.bare, before, (head) => tagsIn(showFile(repo.bare, head, 'overlays/dev/kustomization.yaml')).get(image) === `p${id}`, waitS * 1000);
  let state: string | undefined;
  let error: string | undefined;
  if (promotionId) {
    // The render times out after 30 s: give the record a moment to say so.
    for (let i = 0; i < 20; i++) {
      const res = await fetch(`${service.url}/api/promotions/${promotionId}`, { headers: { Authorization: `Bearer ${API_TOKEN}` } });
      const body = res.ok ? ((await res.json()) as { state?: string; error?: string }) : {};
      state = body.state;
      error = body.error?.replace(/\S*\/workspaces\/[0-9a-f]+\//g, '<workspace>/');
      if (seen || error || state === 'failed' || state === 'committed') break;
      await sleep(500);
    }
  }
  const mem = await service.finish(3_000);
  const realRender: RealRenderAttempt = { landed: seen !== undefined, waitedMs: round(seen ? seen.at - answer.answeredAt : waitS * 1000), state, error, peakRssMiB: mem.peakMiB };
  ctx.log(`4 scale: real render: ${realRender.landed ? `landed in ${realRender.waitedMs} ms` : `not landed after ${waitS} s (${state}: ${error ?? 'no error yet'})`}`);

  // The render by itself, if there is time for it.
  let directRenderMs: number | null = null;
  let directRenderTimedOut = false;
  const capS = 100;
  if (!ctx.quick && ctx.remainingS() > capS + 15) {
    const checkout = join(root, 'checkout');
    await timed('git', ['clone', '--quiet', repo.url, checkout], { env: scriptEnv() });
    ctx.log(`4 scale: kubectl kustomize overlays/dev by itself (cap ${capS} s)`);
    const run = await timed('timeout', [String(capS), 'kubectl', 'kustomize', join(checkout, 'overlays/dev')], { env: baseEnv() });
    directRenderTimedOut = run.code === 124;
    directRenderMs = round(run.ms);
    ctx.log(`4 scale: kubectl kustomize took ${Math.round(run.ms)} ms${directRenderTimedOut ? ' (cut off)' : ''}`);
  }

  return {
    apps: appCount,
    environments: 3,
    commits: commitCount,
    generateMs: round(repo.generateMs),
    packMiB: round(repo.packBytes / 1048576),
    stubRender,
    stubRenderProfiled: profiled,
    realRender,
    directRenderMs,
    directRenderTimedOut,
  };
}
