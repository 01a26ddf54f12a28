import type { BoardResult } from '../scenarios/board.js';
import type { BurstResult } from '../scenarios/burst.js';
import type { IntakeResult } from '../scenarios/intake.js';
import type { PipelineResult } from '../scenarios/pipeline.js';
import type { ScaleResult } from '../scenarios/scale.js';
import type { MemoryRecord } from './context.js';
import type { ProfileSummary } from './profile.js';
import type { Breakdown } from './promotions.js';
import { fmt, markdownTable } from './stats.js';

export interface Goal {
  scenario: string;
  goal: string;
  measured: string;
  met: boolean | null;
}

export interface Results {
  intake?: IntakeResult;
  pipeline?: PipelineResult;
  burst?: BurstResult;
  scale?: ScaleResult;
  board?: BoardResult;
  memory: MemoryRecord[];
}

const R = true;

export function intakeTables(r: IntakeResult): string {
  const rows = r.targets.flatMap((t) =>
    t.phases.map((p) => [
      t.name,
      p.tool === 'uniform'
        ? `${p.targetRate} req/s uniform (open loop), ${p.durationS} s`
        : p.targetRate
          ? `${p.targetRate} req/s autocannon overallRate, ${p.durationS} s`
          : `saturation, autocannon ${p.connections} conn, ${p.durationS} s`,
      fmt(p.rps, 0),
      fmt(p.latencyMs.p50, 2),
      fmt(p.latencyMs.p99, 2),
      fmt(p.latencyMs.p999, 2),
      fmt(p.latencyMs.max, 1),
      String(p.requests),
      String(p.non2xx),
      `${p.errors}/${p.timeouts}`,
    ]),
  );
  const stored = r.targets.map((t) => [t.name, String(t.accepted), String(t.jobsStored), fmt(t.peakRssMiB)]);
  const profile = r.profile
    ? ['', profileTables(r.profile.summary, `(HOIST_ROLE=web) at saturation, a separate ${fmt(r.profile.durationS, 0)}-s run at ${fmt(r.profile.rps, 0)} req/s under the profiler`)]
    : [];
  return [
    markdownTable(['target', 'load', 'req/s', 'p50 ms', 'p99 ms', 'p99.9 ms', 'max ms', 'answers', 'non-2xx', 'errors/timeouts'], rows, [false, false, R, R, R, R, R, R, R, R]),
    '',
    markdownTable(['target', '202 answers (all phases)', 'jobs in Redis afterwards', 'peak RSS MiB'], stored, [false, R, R, R]),
    ...profile,
  ].join('\n');
}

export function pipelineTables(r: PipelineResult): string {
  const s = (name: string, runs: number, m: { p50: number; p90: number; p99: number; max: number }, extra = '') => [name, String(runs), fmt(m.p50), fmt(m.p90), fmt(m.p99), fmt(m.max), extra];
  const main = markdownTable(
    ['what', 'runs', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'note'],
    [
      s('hoist: 202 → commit on the remote', r.hoist.runs, r.hoist.fromAnswer, `cold first promotion ${fmt(r.hoist.coldMs)} ms; lost ${r.hoist.lost}`),
      s('hoist: webhook sent → commit on the remote', r.hoist.runs, r.hoist.fromSend),
      s(r.baseline.name, r.baseline.runs, r.baseline.ms, `failed ${r.baseline.failed}`),
      s(r.floor.name, r.floor.runs, r.floor.ms, `failed ${r.floor.failed}`),
    ],
    [false, R, R, R, R, R, false],
  );
  const ratios = markdownTable(
    ['ratio (p50)', 'value', 'goal'],
    [
      ['baseline / hoist', `${fmt(r.ratios.baselineOverHoist, 2)}×`, '≥ 3×'],
      ['hoist / floor', `${fmt(r.ratios.hoistOverFloor, 2)}×`, '≤ 2×'],
    ],
    [false, R, false],
  );
  const d = r.diagnostics;
  const b = d.profiled.breakdown;
  const shareLine =
    `Render check (\`kubectl kustomize\`) in the profiled pass: ${fmt(b.renderCalls, 2)} runs per promotion, ` +
    `median ${fmt(b.renderMs)} ms = ${fmt(b.renderShare)} % of 202 → commit (${fmt(b.renderShareOfSum)} % of the summed time); ` +
    `the cold first promotion, not counted, rendered once.`;
  const parts = breakdownTable(b, 'render check (`kubectl kustomize`)');
  const top = profileTables(d.profiled.profile, `during the ${d.profiled.runs} measured promotions of the profiled pass (p50 ${fmt(d.profiled.fromAnswer.p50)} ms there)`);
  const spawn = markdownTable(
    ['RSS of the spawning node process, MiB', 'spawn() blocks the event loop, p50 ms', 'max ms'],
    d.spawnCost.map((c) => [String(c.rssMiB), fmt(c.p50Ms, 2), fmt(c.maxMs, 2)]),
    [R, R, R],
  );
  return [main, '', ratios, '', parts, '', shareLine, '', top, '', spawn].join('\n');
}

export function breakdownTable(b: Breakdown, renderLabel: string): string {
  return markdownTable(
    ['where the 202 → commit time goes (median per promotion)', 'ms', 'calls'],
    [
      ['total (profiled pass; the wrappers add ~1–2 ms per process)', fmt(b.totalMs), ''],
      [renderLabel, fmt(b.renderMs), fmt(b.renderCalls, 2)],
      ['git, all calls', fmt(b.gitMs), fmt(b.gitCalls, 2)],
      ...b.gitBySubcommand.map((g) => [`  git ${g.subcommand} (mean)`, fmt(g.msPerPromotion), fmt(g.callsPerPromotion, 2)]),
      ['everything else (Node, Redis, BullMQ, process spawning)', fmt(b.otherMs), ''],
    ],
    [false, R, R],
  );
}

export function profileTables(prof: ProfileSummary | undefined, when: string): string {
  if (!prof) return '(no CPU profile was written)';
  return [
    `CPU profile of the service ${when}: ${fmt(prof.wallMs, 0)} ms wall, ${fmt(prof.busyMs, 0)} ms on CPU (GC ${fmt(prof.gcMs, 0)} ms), the rest idle (waiting for git, kustomize, Redis).`,
    '',
    markdownTable(['self time: function', 'where', 'ms', '% of busy'], prof.top.map((t) => [t.function, t.where, fmt(t.selfMs), fmt(t.share)]), [false, false, R, R]),
    '',
    markdownTable(['self time by module', 'ms', '% of busy'], prof.byModule.map((m) => [m.module, fmt(m.selfMs), fmt(m.share)]), [false, R, R]),
    '',
    markdownTable(
      ["Hoist's functions by inclusive time", 'where', 'ms', '% of busy'],
      prof.hoistInclusive.map((t) => [t.function, t.where, fmt(t.totalMs), fmt(t.share)]),
      [false, false, R, R],
    ),
  ].join('\n');
}

export function burstTables(r: BurstResult): string {
  const h = r.hoist;
  const b = r.baseline;
  return [
    markdownTable(
      ['', 'promotions', 'landed', 'lost', 'commits', 'all landed after', 'failed pushes', 'note'],
      [
        [
          'hoist',
          String(h.webhooks),
          String(h.landed),
          String(h.lost),
          String(h.commits),
          h.allLandedMs === null ? 'never (60 s wait)' : `${fmt(h.allLandedMs, 0)} ms (${fmt(h.afterLastAnswerMs, 0)} ms after the last 202)`,
          '–',
          `promotions per commit ${h.batchSizes.join('+')}; pushed at ${h.pushedAtMs.map((t) => fmt(t / 1000, 1)).join(', ')} s; ` +
            `${h.renders} renders, median ${fmt(h.renderMs.p50, 0)} ms; states ${Object.entries(h.states).map(([k, v]) => `${k} ${v}`).join(', ')}; 202 p99 ${fmt(h.intakeMs.p99)} ms`,
        ],
        [
          'baseline (100 naive CI jobs)',
          String(b.jobs),
          String(b.landed),
          String(b.lost),
          String(b.commits),
          b.lost === 0 ? `${fmt(b.lastSuccessMs, 0)} ms` : `never (last job ended at ${fmt(b.lastJobEndedMs, 0)} ms)`,
          String(b.failedPushes),
          `other failures ${b.otherFailures}; job p50 ${fmt(b.jobMs.p50, 0)} ms${b.sampleError ? `; e.g. "${b.sampleError.slice(0, 120)}"` : ''}`,
        ],
      ],
      [false, R, R, R, R, false, R, false],
    ),
  ].join('\n');
}

export function scaleTables(r: ScaleResult, pipeline: PipelineResult | undefined): string {
  const twoReal = pipeline?.hoist.fromAnswer.p50;
  const s = r.shipped;
  const firstRender =
    r.firstRender === 'stub'
      ? 'first render by the stub (--quick or --stub-render)'
      : s.firstRenderMs === null
        ? 'no render logged'
        : `first render (\`kubectl kustomize\` of the 1,000-app overlay, exit ${s.renderExit ?? '?'}) ${fmt(s.firstRenderMs / 1000, 1)} s`;
  return [
    `Repo: ${r.apps} apps × ${r.environments} environments (one overlay per environment, ${r.apps} images entries each), ${r.commits} commits; generated in ${fmt(r.generateMs / 1000, 1)} s with git fast-import, pack ${fmt(r.packMiB)} MiB.`,
    '',
    markdownTable(
      ['pass', 'runs', 'p50 ms', 'p90 ms', 'p99 ms', 'vs scenario 2', 'note'],
      [
        [
          `hoist as shipped (${r.firstRender === 'stub' ? 'stub' : '`kubectl kustomize`'} render check)`,
          String(s.runs),
          s.runs > 0 ? fmt(s.fromAnswer.p50) : '–',
          s.runs > 0 ? fmt(s.fromAnswer.p90) : '–',
          s.runs > 0 ? fmt(s.fromAnswer.p99) : '–',
          s.runs > 0 && twoReal ? `${fmt(s.fromAnswer.p50 / twoReal, 2)}×` : '–',
          `cold first promotion (clone + ${firstRender}) ${s.coldMs === null ? 'did not land' : `${fmt(s.coldMs / 1000, 1)} s`}; ${s.renders} render(s) in all; lost ${s.lost}`,
        ],
        [
          'hoist profiled (first render by the stub; git and render timed)',
          String(r.stubRenderProfiled.runs),
          fmt(r.stubRenderProfiled.fromAnswer.p50),
          fmt(r.stubRenderProfiled.fromAnswer.p90),
          fmt(r.stubRenderProfiled.fromAnswer.p99),
          twoReal ? `${fmt(r.stubRenderProfiled.fromAnswer.p50 / twoReal, 2)}×` : '–',
          `diagnostics only: the wrappers and the profiler slow it down`,
        ],
      ],
      [false, R, R, R, R, R, false],
    ),
    '',
    breakdownTable(r.stubRenderProfiled.breakdown, 'render check (the stub)'),
    '',
    profileTables(r.stubRenderProfiled.profile, `(stub render, profiled) during ${r.stubRenderProfiled.runs} promotions in the 1,000-app repo`),
  ].join('\n');
}

export function boardTables(r: BoardResult): string {
  const h = r.firstHtml;
  const page = markdownTable(
    ['request', 'runs', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'bytes', 'gzip bytes'],
    [
      ['GET / (first HTML)', String(h.runs), fmt(h.ms.p50), fmt(h.ms.p90), fmt(h.ms.p99), fmt(h.ms.max), String(h.bytes), String(h.gzipBytes)],
      ['GET /board/live (the fragment after an event)', String(r.fragment.runs), fmt(r.fragment.ms.p50), fmt(r.fragment.ms.p90), fmt(r.fragment.ms.p99), fmt(r.fragment.ms.max), String(r.fragment.bytes), ''],
    ],
    [false, R, R, R, R, R, R, R],
  );
  const what = `${r.apps} apps × ${r.environments} environments; the page holds ${h.promoteButtons} Promote and ${h.rollbackButtons} Rollback buttons and ${h.pending} pending promotions (set up by Hoist in ${fmt(r.setupS)} s).`;
  const i = r.intake;
  const rows = [
    ['without streams (before)', i.without[0]],
    [`with ${i.streams} board tabs (/api/events?summary=true)`, i.with],
    [`with ${i.streams} API followers (/api/events, every event)`, i.withFollowers],
    ['without streams (after)', i.without[1]],
  ] as const;
  const intake = markdownTable(
    ['webhook intake, uniform 500 req/s', 'req/s', 'p50 ms', 'p99 ms', 'p99.9 ms', 'max ms', 'non-2xx'],
    rows.filter(([, l]) => l !== undefined).map(([name, l]) => [name, fmt(l!.rps, 0), fmt(l!.latencyMs.p50, 2), fmt(l!.latencyMs.p99, 2), fmt(l!.latencyMs.p999, 2), fmt(l!.latencyMs.max, 1), String(l!.non2xx)]),
    [false, R, R, R, R, R, R],
  );
  return `${what}\n\n${page}\n\n${intake}\n\n${i.changesDelivered} \`changed\` frames reached the board tabs, ${i.eventsDelivered} promotion events the API followers.`;
}

/** The baseline of "does not move p99 by more than 20 %": the mean of the runs without streams before and after. */
export function boardIntakeBaseline(r: BoardResult): number {
  const ps = r.intake.without.map((l) => l.latencyMs.p99);
  return ps.reduce((a, b) => a + b, 0) / ps.length;
}

export function memoryTable(records: readonly MemoryRecord[]): string {
  return markdownTable(
    ['process', 'scenario', 'peak RSS (VmHWM) MiB', 'max sampled VmRSS MiB'],
    records.map((m) => [m.process, m.scenario, fmt(m.peakMiB), fmt(m.sampledMaxMiB)]),
    [false, false, R, R],
  );
}

export function goals(results: Results): Goal[] {
  const out: Goal[] = [];
  const i = results.intake;
  if (i) {
    const hoist = i.targets.find((t) => t.name === 'hoist');
    const floor = i.targets.find((t) => t.name === 'floor');
    for (const phase of hoist?.phases.filter((p) => p.targetRate !== null) ?? []) {
      const how = phase.tool === 'uniform' ? 'uniform arrivals' : 'autocannon overallRate';
      const floorPhase = floor?.phases.find((p) => p.tool === phase.tool && p.targetRate !== null);
      out.push({
        scenario: '1 intake',
        goal: `p99 < 20 ms at 500 req/s (${how})`,
        measured: `p99 ${fmt(phase.latencyMs.p99, 2)} ms (${fmt(phase.rps, 0)} req/s, non-2xx ${phase.non2xx}); floor p99 ${fmt(floorPhase?.latencyMs.p99, 2)} ms`,
        met: phase.latencyMs.p99 < 20 && phase.non2xx === 0 && phase.errors === 0,
      });
    }
    const hs = hoist?.phases.find((p) => p.targetRate === null);
    const fs = floor?.phases.find((p) => p.targetRate === null);
    if (hs && fs) out.push({ scenario: '1 intake', goal: "≥ ½ the floor's throughput at saturation", measured: `${fmt(hs.rps, 0)} vs ${fmt(fs.rps, 0)} req/s = ${fmt((100 * hs.rps) / fs.rps, 0)} %`, met: hs.rps >= fs.rps / 2 });
  }
  const p = results.pipeline;
  if (p) {
    out.push({ scenario: '2 pipeline', goal: 'p50 ≤ baseline / 3', measured: `${fmt(p.hoist.fromAnswer.p50)} ms vs ${fmt(p.baseline.ms.p50)} / 3 = ${fmt(p.baseline.ms.p50 / 3)} ms (baseline is ${fmt(p.ratios.baselineOverHoist, 2)}× hoist)`, met: p.hoist.fromAnswer.p50 <= p.baseline.ms.p50 / 3 });
    out.push({ scenario: '2 pipeline', goal: 'p50 ≤ 2 × floor', measured: `${fmt(p.hoist.fromAnswer.p50)} ms vs 2 × ${fmt(p.floor.ms.p50)} = ${fmt(2 * p.floor.ms.p50)} ms (hoist is ${fmt(p.ratios.hoistOverFloor, 2)}× floor)`, met: p.hoist.fromAnswer.p50 <= 2 * p.floor.ms.p50 });
  }
  const b = results.burst;
  if (b) {
    const h = b.hoist;
    out.push({
      scenario: '3 burst',
      goal: 'all 100 landed within 3 s, ≤ 10 commits, none lost',
      measured: `${h.landed}/100 landed${h.allLandedMs === null ? '' : ` after ${fmt(h.allLandedMs, 0)} ms`}, ${h.commits} commits, ${h.lost} lost (baseline: ${b.baseline.lost} lost, ${b.baseline.failedPushes} failed pushes)`,
      met: h.allLandedMs !== null && h.allLandedMs <= 3_000 && h.commits <= 10 && h.lost === 0,
    });
  }
  const s = results.scale;
  if (s) {
    const two = p?.hoist.fromAnswer.p50;
    const sh = s.shipped;
    const landed = sh.runs > 0 && two !== undefined;
    out.push({
      scenario: '4 scale',
      goal: 'p50 ≤ 1.5 × scenario 2',
      measured: landed
        ? `${fmt(sh.fromAnswer.p50)} ms vs 1.5 × ${fmt(two)} = ${fmt(1.5 * two)} ms (${fmt(sh.fromAnswer.p50 / two, 2)}×; first render ${s.firstRender === 'stub' ? 'by the stub' : sh.firstRenderMs === null ? '?' : `${fmt(sh.firstRenderMs / 1000, 1)} s`}, then cached)`
        : sh.runs > 0
          ? `${fmt(sh.fromAnswer.p50)} ms (scenario 2 was not run)`
          : `no measured promotion (cold first promotion ${sh.coldMs === null ? 'did not land' : `${fmt(sh.coldMs)} ms`})`,
      met: landed ? sh.fromAnswer.p50 <= 1.5 * two : sh.runs > 0 ? null : false,
    });
  }
  const board = results.board;
  if (board) {
    const h = board.firstHtml;
    out.push({ scenario: '9 board', goal: 'first HTML p50 < 100 ms (200 apps × 4 environments)', measured: `p50 ${fmt(h.ms.p50)} ms, p99 ${fmt(h.ms.p99)} ms over ${h.runs} sequential GET /`, met: h.ms.p50 < 100 });
    out.push({ scenario: '9 board', goal: 'first HTML < 200 KB', measured: `${fmt(h.bytes / 1000)} kB (${fmt(h.gzipBytes / 1000)} kB gzipped)`, met: h.bytes < 200_000 });
    const base = boardIntakeBaseline(board);
    const withP99 = board.intake.with.latencyMs.p99;
    out.push({
      scenario: '9 board',
      goal: '100 open event streams (board tabs) move intake p99 by ≤ 20 %',
      measured: `p99 ${fmt(withP99, 2)} ms with vs ${fmt(base, 2)} ms without (${fmt((100 * (withP99 - base)) / base, 0)} %); 100 API followers of every event: ${fmt(board.intake.withFollowers.latencyMs.p99, 2)} ms`,
      met: withP99 <= base * 1.2 && board.intake.with.non2xx === 0,
    });
  }
  // The profiler's own memory is not the service's: profiled runs are listed but do not count here.
  const hoistMem = results.memory.filter((m) => m.process.startsWith('hoist') && !m.process.includes('profiled'));
  if (hoistMem.length > 0) {
    const max = hoistMem.reduce((a, m) => (m.peakMiB > a.peakMiB ? m : a));
    out.push({ scenario: '5 memory', goal: 'peak RSS < 200 MB', measured: `${fmt(max.peakMiB)} MiB (${max.process})`, met: max.peakMiB * 1.048576 < 200 });
  }
  return out;
}

export function goalsTable(list: readonly Goal[]): string {
  return markdownTable(['scenario', 'goal', 'measured', 'met'], list.map((g) => [g.scenario, g.goal, g.measured, g.met === null ? '–' : g.met ? 'yes' : '**no**']));
}

