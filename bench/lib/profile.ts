import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { round } from './stats.js';

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: CpuProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTime {
  function: string;
  where: string;
  selfMs: number;
  /** Share of the sampled time the process was not idle. */
  share: number;
}

export interface ProfileSummary {
  file: string;
  wallMs: number;
  /** Sampled time not spent idle (JS, GC, native "program" time). */
  busyMs: number;
  idleMs: number;
  gcMs: number;
  top: SelfTime[];
  /** Self time grouped by where the code lives: dist/<room>, node_modules/<package>, node: internals. */
  byModule: Array<{ module: string; selfMs: number; share: number }>;
  /** Hoist's own functions (dist/) by inclusive time: their own work plus everything they called. */
  hoistInclusive: Array<{ function: string; where: string; totalMs: number; share: number }>;
}

function location(url: string, root: string): { where: string; module: string } {
  if (url === '') return { where: '(native)', module: '(native / V8)' };
  if (url.startsWith('node:')) return { where: url, module: 'node: internals' };
  let path = url;
  try {
    if (url.startsWith('file:')) path = fileURLToPath(url);
  } catch {
    path = url;
  }
  const rel = relative(root, path);
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(rel);
  if (nm) return { where: rel.slice(rel.indexOf(nm[0])), module: `node_modules/${nm[1]}` };
  const dist = /^dist\/([^/]+)/.exec(rel);
  if (dist) return { where: rel, module: dist[1]?.endsWith('.js') ? 'dist/(top level)' : `dist/${dist[1]}` };
  return { where: rel, module: rel };
}

/** CLOCK_MONOTONIC in microseconds: the clock V8 stamps profile samples with, shared by every process. */
export const monotonicUs = (): number => Number(process.hrtime.bigint() / 1000n);

/** An epoch time (ms, from performance.timeOrigin + performance.now()) on the monotonic clock, µs. */
export function epochToMonotonicUs(epochMs: number): number {
  const offsetUs = monotonicUs() - (performance.timeOrigin + performance.now()) * 1000;
  return Math.round(epochMs * 1000 + offsetUs);
}

/**
 * Reads the newest .cpuprofile in `dir` and sums self time per function (from samples and time deltas),
 * counting only samples inside `window` (monotonic µs) when given, so start-up and shutdown stay out.
 */
export async function summarizeProfile(
  dir: string,
  root: string,
  options: { topN?: number; window?: { fromUs: number; toUs: number } } = {},
): Promise<ProfileSummary | undefined> {
  const topN = options.topN ?? 15;
  const files = (await readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith('.cpuprofile')).sort();
  const file = files[files.length - 1];
  if (!file) return undefined;
  const profile = JSON.parse(await readFile(join(dir, file), 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfUs = new Map<number, number>();
  // timeDeltas[i] is the time before sample i; the time a sample stands for is the delta that follows it.
  let at = profile.startTime;
  let firstUs: number | undefined;
  let lastUs = profile.startTime;
  profile.samples.forEach((id, i) => {
    at += profile.timeDeltas[i] ?? 0;
    if (options.window && (at < options.window.fromUs || at > options.window.toUs)) return;
    const us = profile.timeDeltas[i + 1] ?? 0;
    firstUs ??= at;
    lastUs = at;
    selfUs.set(id, (selfUs.get(id) ?? 0) + us);
  });
  const perFunction = new Map<string, { function: string; where: string; module: string; us: number }>();
  let idleUs = 0;
  let gcUs = 0;
  let totalUs = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    totalUs += us;
    const name = node.callFrame.functionName || '(anonymous)';
    if (name === '(idle)') {
      idleUs += us;
      continue;
    }
    if (name === '(garbage collector)') gcUs += us;
    const loc = location(node.callFrame.url, root);
    const where = node.callFrame.url ? `${loc.where}:${node.callFrame.lineNumber + 1}` : loc.where;
    const key = `${name}\0${where}`;
    const entry = perFunction.get(key) ?? { function: name, where, module: name.startsWith('(') ? name : loc.module, us: 0 };
    entry.us += us;
    perFunction.set(key, entry);
  }
  const busyUs = totalUs - idleUs;
  // Inclusive time of Hoist's own functions: each sample counts once for every distinct dist/ frame on its stack.
  const inclusive = new Map<string, { function: string; where: string; us: number }>();
  for (const [id, us] of selfUs) {
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at)?.callFrame;
      if (!frame) continue;
      const loc = location(frame.url, root);
      if (!loc.module.startsWith('dist/')) continue;
      const where = `${loc.where}:${frame.lineNumber + 1}`;
      const key = `${frame.functionName}\0${where}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const entry = inclusive.get(key) ?? { function: frame.functionName || '(anonymous)', where, us: 0 };
      entry.us += us;
      inclusive.set(key, entry);
    }
  }
  const hoistInclusive = [...inclusive.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, topN)
    .map((e) => ({ function: e.function, where: e.where, totalMs: round(e.us / 1000), share: round((100 * e.us) / busyUs) }));
  const top = [...perFunction.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, topN)
    .map((e) => ({ function: e.function, where: e.where, selfMs: round(e.us / 1000), share: round((100 * e.us) / busyUs) }));
  const modules = new Map<string, number>();
  for (const e of perFunction.values()) modules.set(e.module, (modules.get(e.module) ?? 0) + e.us);
  const byModule = [...modules]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 12)
    .map(([module, us]) => ({ module, selfMs: round(us / 1000), share: round((100 * us) / busyUs) }));
  return {
    file: join(dir, file),
    wallMs: round((lastUs - (firstUs ?? lastUs)) / 1000),
    busyMs: round(busyUs / 1000),
    idleMs: round(idleUs / 1000),
    gcMs: round(gcUs / 1000),
    top,
    byModule,
    hoistInclusive,
  };
}
