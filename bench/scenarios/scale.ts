import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { appsConfig } from '../../test/helpers/hoist.js';
import type { BenchContext } from '../lib/context.js';
import { epochToMonotonicUs, summarizeProfile, type ProfileSummary } from '../lib/profile.js';
import { breakdown, readTimingLog, SCRIPTS, sequentialPromotions, type Breakdown, type SequentialResult } from '../lib/promotions.js';
import { gitTimingWrapper, timedRender } from './pipeline.js';
import { round } from '../lib/stats.js';
import { createScaleRepo } from '../lib/scale-repo.js';

export interface ScaleResult {
  apps: number;
  environments: number;
  commits: number;
  generateMs: number;
  packMiB: number;
  /** What renders the cold first promotion of the measured pass: the real one, or the stub (--quick, --stub-render). */
  firstRender: 'kubectl kustomize' | 'stub';
  /** Hoist as started by `npm start`, fresh data dir: the cold promotion clones and renders, the rest hit the render cache. */
  shipped: SequentialResult & { renders: number; firstRenderMs: number | null; renderExit: number | null };
  /** The same again under --cpu-prof with git timed and the first render by the stub (diagnostics). */
  stubRenderProfiled: SequentialResult & { breakdown: Breakdown; profile: ProfileSummary | undefined };
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
  const base = { scenario: '4 scale', bare: repo.bare, configText, app, overlayFile: 'overlays/dev/kustomization.yaml' };

  // As shipped: the real render check. Its first render of the 1,000-app overlay takes minutes (kustomize's
  // image transformer costs images × resources); the cold promotion waits for it, the others reuse it.
  const firstRender = ctx.quick || ctx.flags.has('--stub-render') ? 'stub' : 'kubectl kustomize';
  const renderLog = join(ctx.root, 'scale-render.log');
  const coldWaitS = 400;
  ctx.log(`4 scale: hoist as shipped (first render: ${firstRender}, waiting up to ${coldWaitS} s for it), then ${runs} sequential promotions of ${app}`);
  const shippedRun = await sequentialPromotions(ctx, {
    ...base,
    name: '4 as shipped',
    runs,
    firstPipelineId: 100_000,
    coldTimeoutMs: coldWaitS * 1000,
    env: {
      HOIST_KUSTOMIZE: timedRender(firstRender === 'stub' ? `bash ${join(SCRIPTS, 'stub-render.sh')}` : 'kubectl kustomize'),
      BENCH_TIMING_LOG: renderLog,
      BENCH_TIMING_LABEL: 'render',
    },
  });
  const renders = (await readTimingLog(renderLog)).filter((l) => l.label === 'render');
  const shipped = { ...shippedRun, renders: renders.length, firstRenderMs: renders[0] ? round(renders[0].endMs - renders[0].startMs) : null, renderExit: renders[0]?.code ?? null };
  ctx.log(`4 scale: as shipped p50 ${shipped.fromAnswer.p50} ms (cold ${shipped.coldMs} ms, first render ${shipped.firstRenderMs} ms, ${renders.length} renders)`);

  // Where Hoist's own time goes at this size: the same, profiled, git and the stub render timed.
  const profRuns = ctx.quick ? 5 : 15;
  const timingLog = join(ctx.root, 'scale-timing.log');
  const profDir = join(ctx.root, 'cpuprofile-scale');
  await mkdir(profDir, { recursive: true });
  const wrapDir = await gitTimingWrapper(ctx, timingLog);
  ctx.log(`4 scale: diagnostics: --cpu-prof, git and render timed (${profRuns} runs, first render by the stub)`);
  const profRun = await sequentialPromotions(ctx, {
    ...base,
    name: '4 stub render profiled',
    runs: profRuns,
    firstPipelineId: 150_000,
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

  return {
    apps: appCount,
    environments: 3,
    commits: commitCount,
    generateMs: round(repo.generateMs),
    packMiB: round(repo.packBytes / 1048576),
    firstRender,
    shipped,
    stubRenderProfiled: profiled,
  };
}
