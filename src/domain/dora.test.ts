import { describe, expect, it } from 'vitest';
import { computeDora, median, percentile, type DeploymentRecord } from './dora.js';

const T0 = Date.parse('2026-03-02T00:00:00.000Z');
const at = (minutes: number) => new Date(T0 + minutes * 60_000).toISOString();
const HOUR = 3_600_000;

/**
 * A scripted week in prod and staging (minutes after T0):
 * - p1 web v1: committed at -120, lands 0, healthy 30 → lead 150 min.
 * - p2 web v2: committed at 60, lands 120, healthy 130, degrades 150 (within 1 h) → failure; rollback r1 (v1) lands 155,
 *   healthy 170 → restored after 20 min.
 * - p3 web v3 + api a3 (a train): committed 300/280, lands 360, healthy 400 → leads 100 and 120 min.
 * - p4 web v4: lands 600, rolled back by r2 at 800 (more than an hour later) → no failure; r2 healthy 805.
 * - p5 web v5: lands 1000, degrades 1010, healthy again 1040 by itself → failure, restored after 30 min.
 * - s1 web v1 in staging: lands -500 (before the window) → ignored in the window, and for prod.
 * - p6 web v6: lands 1500, degraded 1600 (> 1 h after landing: no failed change), never restored → no incident counted.
 */
const history: DeploymentRecord[] = [
  { id: 's1', env: 'staging', kind: 'pipeline', apps: [{ app: 'web', tag: 'v1', commitAt: at(-600) }], landedAt: at(-500), healthyAt: at(-490) },
  { id: 'p1', env: 'prod', kind: 'manual', apps: [{ app: 'web', tag: 'v1', commitAt: at(-120) }], landedAt: at(0), healthyAt: at(30) },
  { id: 'p2', env: 'prod', kind: 'manual', apps: [{ app: 'web', tag: 'v2', commitAt: at(60) }], landedAt: at(120), healthyAt: at(130), degradedAt: at(150) },
  { id: 'r1', env: 'prod', kind: 'rollback', apps: [{ app: 'web', tag: 'v1', commitAt: at(-120) }], landedAt: at(155), healthyAt: at(170) },
  {
    id: 'p3',
    env: 'prod',
    kind: 'manual',
    apps: [
      { app: 'web', tag: 'v3', commitAt: at(300) },
      { app: 'api', tag: 'a3', commitAt: at(280) },
    ],
    landedAt: at(360),
    healthyAt: at(400),
  },
  { id: 'p4', env: 'prod', kind: 'gated', apps: [{ app: 'web', tag: 'v4' }], landedAt: at(600), healthyAt: at(610) },
  { id: 'r2', env: 'prod', kind: 'rollback', apps: [{ app: 'web', tag: 'v3' }], landedAt: at(800), healthyAt: at(805) },
  { id: 'p5', env: 'prod', kind: 'manual', apps: [{ app: 'web', tag: 'v5', commitAt: at(940) }], landedAt: at(1000), degradedAt: at(1010), restoredAt: at(1040) },
  { id: 'p6', env: 'prod', kind: 'manual', apps: [{ app: 'web', tag: 'v6' }], landedAt: at(1500), degradedAt: at(1600) },
];

const window = { since: new Date(T0), until: new Date(T0 + 2 * 86_400_000), failureWindowMs: HOUR };

describe('computeDora over a scripted history', () => {
  it('answers the four figures for prod, with the counts behind them', () => {
    expect(computeDora(history, { ...window, env: 'prod' })).toEqual({
      // p1 p2 r1 p3 p4 r2 p5 p6 over two days.
      deploymentFrequency: { perDay: 4, deployments: 8, days: 2 },
      // p1 150 min, p2 70 min, p3 web 100 min and api 120 min; rollbacks are no samples, p4/p5/p6 lack a commit time or health.
      leadTime: { medianSeconds: 110 * 60, p90Seconds: 150 * 60, samples: 4 },
      // p2 (degraded after 30 min, and rolled back) and p5 (degraded after 10 min); p4's rollback came after 200 min, p6 degraded after 100.
      changeFailureRate: { rate: 0.25, failures: 2, deployments: 8 },
      // p2 → r1 healthy after 20 min; p5 healthy again by itself after 30 min; p6 is still open.
      timeToRestore: { medianSeconds: 25 * 60, incidents: 2 },
    });
  });

  it('narrows to one app: a train counts for each of its apps, with only that app as a lead-time sample', () => {
    const api = computeDora(history, { ...window, env: 'prod', app: 'api' });
    expect(api.deploymentFrequency).toEqual({ perDay: 0.5, deployments: 1, days: 2 });
    expect(api.leadTime).toEqual({ medianSeconds: 120 * 60, p90Seconds: 120 * 60, samples: 1 });
    expect(api.changeFailureRate).toEqual({ rate: 0, failures: 0, deployments: 1 });
  });

  it('counts only what landed inside the window, and knows a rollback after the window ends undid a deployment inside it', () => {
    const firstHours = computeDora(history, { since: new Date(T0), until: new Date(T0 + 154 * 60_000), env: 'prod', failureWindowMs: HOUR });
    expect(firstHours.deploymentFrequency.deployments).toBe(2);
    expect(firstHours.changeFailureRate).toEqual({ rate: 0.5, failures: 1, deployments: 2 });
    // Restored after `until` is still the restore of an incident that began inside the window.
    expect(firstHours.timeToRestore).toEqual({ medianSeconds: 20 * 60, incidents: 1 });
  });

  it('a longer failure window counts the late rollback and the late degradation too', () => {
    expect(computeDora(history, { ...window, env: 'prod', failureWindowMs: 4 * HOUR }).changeFailureRate).toEqual({ rate: 0.5, failures: 4, deployments: 8 });
  });

  it('answers nulls, not zeros or NaN, where there is nothing to compute from', () => {
    expect(computeDora([], { ...window, env: 'prod' })).toEqual({
      deploymentFrequency: { perDay: 0, deployments: 0, days: 2 },
      leadTime: { medianSeconds: null, p90Seconds: null, samples: 0 },
      changeFailureRate: { rate: null, failures: 0, deployments: 0 },
      timeToRestore: { medianSeconds: null, incidents: 0 },
    });
  });

  it('takes percentiles by nearest rank and medians of even counts as the mean of the middle two', () => {
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90)).toBe(9);
    expect(percentile([5], 90)).toBe(5);
  });
});
