import { execFileSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createSyntheticGitops } from '../../test/helpers/git-repos.js';
import { appsConfig } from '../../test/helpers/hoist.js';
import type { BenchContext } from '../lib/context.js';
import { epochToMonotonicUs, summarizeProfile, type ProfileSummary } from '../lib/profile.js';
import {
  baselinePromotions,
  breakdown,
  floorPromotions,
  readTimingLog,
  SCRIPTS,
  sequentialPromotions,
  type Breakdown,
  type ScriptResult,
  type SequentialResult,
} from '../lib/promotions.js';
import { PROJECT_ROOT, timed } from '../lib/processes.js';
import { round } from '../lib/stats.js';

export interface PipelineResult {
  repo: string;
  renderer: string;
  hoist: SequentialResult;
  baseline: ScriptResult;
  floor: ScriptResult;
  ratios: { baselineOverHoist: number; hoistOverFloor: number };
  diagnostics: {
    /** A separate process and repo: --cpu-prof, git and the render check through timing wrappers. */
    profiled: SequentialResult & { breakdown: Breakdown; profile: ProfileSummary | undefined };
    spawnCost: SpawnCost[];
  };
}

const APP = 'web';
const OVERLAY = 'overlays/dev';

/** A `git` in front of the real one on the service's PATH that logs each call's duration. */
export async function gitTimingWrapper(ctx: BenchContext, log: string): Promise<string> {
  const dir = await mkdtemp(join(ctx.root, 'gitwrap-'));
  const realGit = execFileSync('sh', ['-c', 'command -v git']).toString().trim();
  const script = `#!/usr/bin/env bash
start=$EPOCHREALTIME
${realGit} "$@"
rc=$?
args="$*"
printf 'git\\t%s\\t%s\\t%s\\t%s\\n' "$start" "$EPOCHREALTIME" "$rc" "\${args//$'\\n'/ }" >> ${log}
exit $rc
`;
  await writeFile(join(dir, 'git'), script);
  await chmod(join(dir, 'git'), 0o755);
  return dir;
}

export interface SpawnCost {
  rssMiB: number;
  p50Ms: number;
  maxMs: number;
}

/**
 * How long `child_process.spawn()` itself blocks the event loop (libuv forks the whole process on Linux)
 * in a node process holding 0–200 MiB of ballast: bench/spawn-cost.mjs, one process per size.
 */
async function measureSpawnCost(): Promise<SpawnCost[]> {
  const out: SpawnCost[] = [];
  for (const ballast of [0, 50, 100, 200]) {
    const run = await timed(process.execPath, [join(PROJECT_ROOT, 'bench/spawn-cost.mjs'), String(ballast)]);
    if (run.code === 0) out.push(JSON.parse(run.stdout) as SpawnCost);
  }
  return out;
}

/** HOIST_KUSTOMIZE value that runs `command` through the timing wrapper. */
export const timedRender = (command: string) => `bash ${join(SCRIPTS, 'timed-exec.sh')} ${command}`;

/**
 * Scenario 2: pipeline to commit, one app (`createSyntheticGitops(['web'])`), sequential promotions.
 * Same run: the baseline script and the floor script against their own fresh repos.
 */
export async function pipelineScenario(ctx: BenchContext): Promise<PipelineResult> {
  const runs = ctx.quick ? 30 : 200;
  const refRuns = ctx.quick ? 15 : 50;
  const fresh = async () => {
    const repo = await createSyntheticGitops([APP]);
    ctx.defer(() => repo.cleanup());
    return repo;
  };
  const base = { scenario: '2 pipeline', app: APP, overlayFile: `${OVERLAY}/kustomization.yaml` };

  const mainRepo = await fresh();
  ctx.log(`2 pipeline: hoist, ${runs} sequential promotions (renderer: found on first use)`);
  const hoist = await sequentialPromotions(ctx, { ...base, name: '2 main', bare: mainRepo.bare, configText: appsConfig(mainRepo.url, [APP]), runs, firstPipelineId: 100_000 });
  ctx.log(`2 pipeline: hoist p50 ${hoist.fromAnswer.p50} ms, p99 ${hoist.fromAnswer.p99} ms`);

  const baseRepo = await fresh();
  ctx.log(`2 pipeline: baseline script, ${refRuns} runs`);
  const baseline = await baselinePromotions(ctx, { bare: baseRepo.bare, url: baseRepo.url, app: APP, overlay: OVERLAY, runs: refRuns, firstPipelineId: 100_000 });
  const floorRepo = await fresh();
  ctx.log(`2 pipeline: floor script, ${refRuns} runs`);
  const floor = await floorPromotions(ctx, { bare: floorRepo.bare, url: floorRepo.url, app: APP, overlay: OVERLAY, runs: refRuns, firstPipelineId: 100_000 });

  // Diagnostics: where the time goes.
  const profLog = join(ctx.root, 'profiled-timing.log');
  const profDir = join(ctx.root, 'cpuprofile');
  await mkdir(profDir, { recursive: true });
  const wrapDir = await gitTimingWrapper(ctx, profLog);
  const r2 = await fresh();
  ctx.log(`2 pipeline: diagnostics: --cpu-prof, git and render timed (${refRuns} runs)`);
  const profRun = await sequentialPromotions(ctx, {
    ...base,
    name: '2 profiled',
    bare: r2.bare,
    configText: appsConfig(r2.url, [APP]),
    runs: refRuns,
    firstPipelineId: 100_000,
    nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profDir}`],
    env: {
      PATH: `${wrapDir}:${process.env.PATH ?? '/usr/bin:/bin'}`,
      HOIST_KUSTOMIZE: timedRender('kubectl kustomize'),
      BENCH_TIMING_LOG: profLog,
      BENCH_TIMING_LABEL: 'render',
    },
  });
  // Start-up, the cold promotion and shutdown stay out: the window is first measured webhook → last commit seen.
  const first = profRun.samples[0];
  const last = profRun.samples[profRun.samples.length - 1];
  const profile = await summarizeProfile(profDir, ctx.serviceRoot, {
    window: first && last ? { fromUs: epochToMonotonicUs(first.sentEpochMs), toUs: epochToMonotonicUs(last.visibleEpochMs) } : undefined,
  });
  const profiled = { ...profRun, breakdown: breakdown(profRun.samples, await readTimingLog(profLog)), profile };

  ctx.log('2 pipeline: diagnostics: cost of one child_process.spawn() against the resident memory of the spawning process');
  const spawnCost = await measureSpawnCost();

  return {
    repo: "createSyntheticGitops(['web']): 1 app, overlays dev/staging/prod",
    renderer: 'found on first use (kubectl kustomize on this machine)',
    hoist,
    baseline,
    floor,
    ratios: {
      baselineOverHoist: round(baseline.ms.p50 / hoist.fromAnswer.p50, 2),
      hoistOverFloor: round(hoist.fromAnswer.p50 / floor.ms.p50, 2),
    },
    diagnostics: { profiled, spawnCost },
  };
}
