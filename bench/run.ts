// `npm run bench`: Hoist side by side with a floor and the baseline it replaces. See BENCHMARKS.md.
//   npm run bench                 every scenario (about 7 minutes)
//   npm run bench -- --quick      shorter runs, for trying the bench itself
//   npm run bench -- --only=2,3   some scenarios (7: digest pinning, 8: a fleet of 10 repos, 9: the board)
//   npm run bench -- --keep       keep the temp dir (service logs, timing logs, CPU profile)
//   npm run bench -- --no-profile skip the profiled intake run
//   npm run bench -- --service-root=DIR   measure DIR/dist/main.js (another checkout, built there) instead
import { execFileSync, spawnSync } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { startRedisServer } from '../test/helpers/redis-server.js';
import { createContext, type BenchContext } from './lib/context.js';
import { PROJECT_ROOT } from './lib/processes.js';
import { BUNDLED_KUSTOMIZE } from './lib/promotions.js';
import { boardTables, burstTables, goals, goalsTable, intakeTables, memoryTable, pipelineTables, scaleTables, type Results } from './lib/report.js';
import { boardScenario } from './scenarios/board.js';
import { burstScenario } from './scenarios/burst.js';
import { digestGoals, digestScenario, digestTables, type DigestResult } from './scenarios/digest.js';
import { fleetGoals, fleetScenario, fleetTables, type FleetResult } from './scenarios/fleet.js';
import { intakeScenario } from './scenarios/intake.js';
import { pipelineScenario } from './scenarios/pipeline.js';
import { scaleScenario } from './scenarios/scale.js';

const BUDGET_S = 720;

function firstLine(command: string, args: string[]): string {
  const out = spawnSync(command, args, { encoding: 'utf8' });
  return `${out.stdout ?? ''}${out.stderr ?? ''}`.trim().split('\n')[0] ?? '';
}

function machine() {
  return {
    nproc: cpus().length,
    cpu: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    /** 1/5/15-minute load averages before the run: other work on the machine skews every figure. */
    loadAverageAtStart: loadavg().map((l) => Math.round(l * 100) / 100),
    node: process.version,
    redis: firstLine('redis-server', ['--version']),
    git: firstLine('git', ['--version']),
    kubectl: spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' }).stdout.trim().split('\n').join('; '),
    bundledKustomize: firstLine(BUNDLED_KUSTOMIZE, ['version']),
    autocannon: (JSON.parse(execFileSync('node', ['-p', 'JSON.stringify(require("autocannon/package.json").version)'], { cwd: PROJECT_ROOT }).toString()) as string),
  };
}

function commitOf(dir: string): string {
  const head = spawnSync('git', ['-C', dir, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).stdout.trim();
  const dirty = spawnSync('git', ['-C', dir, 'status', '--porcelain', '--untracked-files=no', '--', 'src'], { encoding: 'utf8' }).stdout.trim();
  return head ? `${head}${dirty ? ' + uncommitted changes in src/' : ''}` : 'not a git checkout';
}

function section(title: string, body: string): void {
  process.stdout.write(`\n## ${title}\n\n${body}\n`);
}

async function main(): Promise<void> {
  const startedAt = performance.now();
  const args = process.argv.slice(2);
  const quick = args.includes('--quick');
  const only = args.find((a) => a.startsWith('--only='))?.slice('--only='.length).split(',');
  const wanted = (n: string) => !only || only.includes(n);

  const serviceRoot = resolve(args.find((a) => a.startsWith('--service-root='))?.slice('--service-root='.length) ?? PROJECT_ROOT);
  process.stderr.write(`[bench] npm run build${serviceRoot === PROJECT_ROOT ? '' : ` (in ${serviceRoot})`}\n`);
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: serviceRoot, stdio: ['ignore', 'inherit', 'inherit'] });

  const redis = await startRedisServer();
  const ctx: BenchContext = await createContext(redis, { quick, flags: new Set(args), serviceRoot, budgetS: BUDGET_S, startedAt });
  let interrupted = false;
  const onSignal = () => {
    if (interrupted) return;
    interrupted = true;
    process.stderr.write('\n[bench] interrupted: cleaning up\n');
    void ctx.runDeferred().finally(() => redis.stop().finally(() => rm(ctx.root, { recursive: true, force: true }).finally(() => process.exit(130))));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const results: Results = { memory: ctx.memory };
  let digest: DigestResult | undefined;
  let fleet: FleetResult | undefined;
  const info = machine();
  ctx.log(`machine: ${info.nproc} cpus, ${info.memoryGiB} GiB, node ${info.node}, ${info.redis}, ${info.git}; load average ${info.loadAverageAtStart.join(' ')}`);
  if ((info.loadAverageAtStart[0] ?? 0) > 0.5) ctx.log('warning: the machine is busy (load average above 0.5): the figures will be noisy');
  try {
    if (wanted('1')) results.intake = await intakeScenario(ctx);
    if (wanted('2')) results.pipeline = await pipelineScenario(ctx);
    if (wanted('3')) results.burst = await burstScenario(ctx);
    if (wanted('4')) results.scale = await scaleScenario(ctx);
    if (wanted('9')) results.board = await boardScenario(ctx);
    if (wanted('7')) digest = await digestScenario(ctx);
    if (wanted('8')) fleet = await fleetScenario(ctx);
  } finally {
    await ctx.runDeferred();
    await redis.stop();
    // --keep leaves the service logs, timing logs and CPU profile for a look (under the printed path).
    if (args.includes('--keep')) ctx.log(`kept ${ctx.root}`);
    else await rm(ctx.root, { recursive: true, force: true });
  }

  process.stdout.write(`\n# Hoist benchmarks${quick ? ' (--quick: shortened runs, not for comparison)' : ''}\n\nService: ${join(serviceRoot, 'dist/main.js')} at ${commitOf(serviceRoot)}\n`);
  if (results.intake) section(`1. Webhook intake (HOIST_ROLE=${results.intake.role}, ${results.intake.bodyBytes}-byte Pipeline Hook)`, intakeTables(results.intake));
  if (results.pipeline) section('2. Pipeline to commit (1 app, sequential)', pipelineTables(results.pipeline));
  if (results.burst) section(`3. Burst (${results.burst.apps} apps within ${results.burst.spreadMs} ms)`, burstTables(results.burst));
  if (results.scale) section('4. Scale', scaleTables(results.scale, results.pipeline));
  if (results.board) section('9. Board (first HTML; intake with open event streams)', boardTables(results.board));
  if (digest) section('7. Digest pinning (pin: digest against the local docker-registry)', digestTables(digest));
  if (fleet) section(`8. Fleet (${fleet.repos} repos × ${fleet.appsPerRepo} apps × ${fleet.environments} environments; HOIST_ROLE=web + ${fleet.workers} × worker)`, fleetTables(fleet));
  section('5. Memory (peak RSS per process)', memoryTable(results.memory));
  const goalList = [...goals(results), ...digestGoals(digest), ...fleetGoals(fleet)];
  section('Goals', goalsTable(goalList));
  const elapsedS = Math.round((performance.now() - startedAt) / 1000);
  process.stdout.write(`\nTotal time ${elapsedS} s.\n`);

  const out = join(PROJECT_ROOT, 'bench/results/latest.json');
  const stripSamples = (key: string, value: unknown) => (key === 'samples' ? undefined : value);
  await writeFile(
    out,
    `${JSON.stringify({ date: new Date().toISOString(), command: `npm run bench${args.length ? ` -- ${args.join(' ')}` : ''}`, quick, elapsedS, machine: info, serviceRoot, commit: commitOf(serviceRoot), goals: goalList, ...results, ...(digest ? { digest } : {}), ...(fleet ? { fleet } : {}) }, stripSamples, 2)}\n`,
  );
  process.stdout.write(`Figures written to ${out}\n`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exit(1);
});
