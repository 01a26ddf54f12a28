/**
 * The four DORA figures from Hoist's own records of what landed where and how it went. Pure: records and a window
 * in, figures out, so a scripted history with known timestamps pins every rule down.
 */
import type { PromotionKind } from './types.js';

/** One promotion that landed in an environment, and what the deploy side said about it afterwards. */
export interface DeploymentRecord {
  id: string;
  env: string;
  kind: PromotionKind;
  /** Every app it landed, with the source commit's time when the pipeline that built the tag said it. */
  apps: ReadonlyArray<{ app: string; tag: string; commitAt?: string | undefined }>;
  landedAt: string;
  /** First time the environment ran it Synced and Healthy (at the commit without a deploy side). */
  healthyAt?: string | undefined;
  /** First time it was reported Degraded or its sync failed. */
  degradedAt?: string | undefined;
  /** First time it was healthy again after it degraded. */
  restoredAt?: string | undefined;
}

export interface DoraWindow {
  since: Date;
  until: Date;
  env?: string | undefined;
  app?: string | undefined;
  /** A deployment degraded or rolled back within this long after it landed counts as a failed change. */
  failureWindowMs: number;
}

export interface DoraFigures {
  deploymentFrequency: { perDay: number; deployments: number; days: number };
  leadTime: { medianSeconds: number | null; p90Seconds: number | null; samples: number };
  changeFailureRate: { rate: number | null; failures: number; deployments: number };
  timeToRestore: { medianSeconds: number | null; incidents: number };
}

const DAY_MS = 86_400_000;

const ms = (iso: string | undefined): number | undefined => {
  if (iso === undefined) return undefined;
  const t = Date.parse(iso);
  return Number.isFinite(t) ? t : undefined;
};

/** Rounded to a thousandth: figures for people, not floating-point noise. */
const round3 = (n: number) => Math.round(n * 1000) / 1000;

/** The median of numbers (the mean of the two middle ones for an even count); null for none. */
export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** The nearest-rank percentile (p in 0..100): a value that was really observed; null for none. */
export function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1] as number;
}

const sharesApp = (a: DeploymentRecord, b: DeploymentRecord) => a.apps.some((x) => b.apps.some((y) => y.app === x.app));

/**
 * Deployment frequency: deployments that landed in the window (rollbacks included: they are deployments) per day.
 * Lead time: source commit → healthy in the environment, per app of each deployment in the window; rollbacks bring
 * back an old commit, so they are no sample. Change failure rate: deployments of the window that degraded, or were
 * rolled back (the rollback landing next after them in that environment and app), within the failure window after
 * landing. Time to restore: from a degradation in the window to the first time that environment and app ran healthy
 * again (the same version recovering, a rollback, or a fix); one still open is not counted yet.
 */
export function computeDora(records: readonly DeploymentRecord[], window: DoraWindow): DoraFigures {
  const since = window.since.getTime();
  const until = window.until.getTime();
  const scoped = records
    .filter((r) => (window.env === undefined || r.env === window.env) && (window.app === undefined || r.apps.some((a) => a.app === window.app)))
    .filter((r) => ms(r.landedAt) !== undefined)
    .sort((a, b) => (ms(a.landedAt) as number) - (ms(b.landedAt) as number));
  const inWindow = scoped.filter((r) => {
    const t = ms(r.landedAt) as number;
    return t >= since && t < until;
  });

  const days = Math.max(0, (until - since) / DAY_MS);
  const deployments = inWindow.length;

  const leadTimes: number[] = [];
  for (const r of inWindow) {
    const healthy = ms(r.healthyAt);
    if (healthy === undefined || r.kind === 'rollback') continue;
    for (const item of r.apps) {
      if (window.app !== undefined && item.app !== window.app) continue;
      const commit = ms(item.commitAt);
      if (commit !== undefined) leadTimes.push(Math.max(0, (healthy - commit) / 1000));
    }
  }

  /** The deployment a rollback undid: the latest one before it of the same environment and one of its apps. */
  const undoneBy = new Map<string, DeploymentRecord>();
  for (const [i, r] of scoped.entries()) {
    if (r.kind !== 'rollback') continue;
    for (let j = i - 1; j >= 0; j--) {
      const before = scoped[j] as DeploymentRecord;
      if (before.env === r.env && sharesApp(before, r)) {
        if (!undoneBy.has(before.id)) undoneBy.set(before.id, r);
        break;
      }
    }
  }
  const failed = (r: DeploymentRecord): boolean => {
    const landed = ms(r.landedAt) as number;
    const degraded = ms(r.degradedAt);
    if (degraded !== undefined && degraded - landed <= window.failureWindowMs) return true;
    const rollback = undoneBy.get(r.id);
    return rollback !== undefined && (ms(rollback.landedAt) as number) - landed <= window.failureWindowMs;
  };
  const failures = inWindow.filter(failed).length;

  const restoreTimes: number[] = [];
  for (const r of scoped) {
    const degraded = ms(r.degradedAt);
    if (degraded === undefined || degraded < since || degraded >= until) continue;
    const candidates = [ms(r.restoredAt)];
    for (const later of scoped) {
      if (later === r || later.env !== r.env || !sharesApp(later, r)) continue;
      const healthy = ms(later.healthyAt);
      if (healthy !== undefined && healthy > degraded && (ms(later.landedAt) as number) >= (ms(r.landedAt) as number)) candidates.push(healthy);
    }
    const restored = Math.min(...candidates.filter((t): t is number => t !== undefined && t >= degraded));
    if (Number.isFinite(restored)) restoreTimes.push((restored - degraded) / 1000);
  }

  const m = (values: number[]) => {
    const v = median(values);
    return v === null ? null : round3(v);
  };
  const p90 = percentile(leadTimes, 90);
  return {
    deploymentFrequency: { perDay: days > 0 ? round3(deployments / days) : 0, deployments, days: round3(days) },
    leadTime: { medianSeconds: m(leadTimes), p90Seconds: p90 === null ? null : round3(p90), samples: leadTimes.length },
    changeFailureRate: { rate: deployments > 0 ? round3(failures / deployments) : null, failures, deployments },
    timeToRestore: { medianSeconds: m(restoreTimes), incidents: restoreTimes.length },
  };
}
