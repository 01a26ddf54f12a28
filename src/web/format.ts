/** Pure helpers for the board's words: times, states, gates. No I/O, no markup. */
import type { PromotionState } from '../domain/types.js';
import type { GateView } from '../service/promotion-service.js';

/** `2026-11-22T09:24:05.000Z` → `2026-11-22T09:24:05Z`: what a `<time datetime>` needs, a few bytes shorter per cell. */
export function isoSeconds(iso: string): string {
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? '' : new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** `Nov 22 09:24 UTC`-like short text: the page is rendered once for everyone, so the server says UTC. */
export function shortTime(iso: string): string {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return '';
  const d = new Date(ms).toISOString();
  return `${d.slice(0, 10)} ${d.slice(11, 16)}`;
}

/** The same, without the year when it is this year's: a grid cell has little room. */
export function compactTime(iso: string, now: Date): string {
  const text = shortTime(iso);
  return text.slice(0, 4) === String(now.getUTCFullYear()) ? text.slice(5) : text;
}

/** A duration in words a person reads at a glance: `45s`, `12m 03s`, `3h 20m`, `2d 4h`. */
export function timeLeft(ms: number): string {
  const s = Math.max(0, Math.ceil(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

/** Each state in words, so nothing is told by colour alone. */
export const STATE_TEXT: Readonly<Record<PromotionState, string>> = {
  waiting: 'waiting for gates',
  'awaiting-approval': 'awaiting approval',
  queued: 'queued',
  running: 'being written',
  'awaiting-merge': 'awaiting merge',
  committed: 'committed',
  degraded: 'degraded',
  skipped: 'skipped',
  failed: 'failed',
  cancelled: 'cancelled',
  superseded: 'superseded',
};

/** A gate's moment, for a countdown (soak), an opening (window) or an end (freeze). */
export interface GateMoment {
  /** What the moment is: the soak's end, the window's opening, the freeze's end. */
  label: 'left' | 'opens' | 'until';
  at: string;
}

/**
 * The instant a waiting gate names. The domain states it in the reason it gives ("… (until <ISO>)",
 * "… opens <ISO>"), the same words the API and chat show; read from there rather than judged again here.
 */
export function gateMoment(gate: GateView): GateMoment | undefined {
  if (gate.status !== 'waiting') return undefined;
  const iso = /(?:until|opens) (\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z)/.exec(gate.reason)?.[1];
  if (iso === undefined || Number.isNaN(Date.parse(iso))) return undefined;
  if (gate.gate === 'soak') return { label: 'left', at: iso };
  if (gate.gate === 'window') return { label: 'opens', at: iso };
  if (gate.gate === 'freeze') return { label: 'until', at: iso };
  return undefined;
}

/** A diff line's kind, for its marker class (the `+`/`-` stays in the text: not colour alone). */
export function diffLineKind(line: string): 'add' | 'del' | 'hunk' | 'meta' | 'same' {
  if (line.startsWith('+++') || line.startsWith('---')) return 'meta';
  if (line.startsWith('+')) return 'add';
  if (line.startsWith('-')) return 'del';
  if (line.startsWith('@@')) return 'hunk';
  return 'same';
}
