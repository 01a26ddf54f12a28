import { describe, expect, it } from 'vitest';
import type { PromotionView } from '../service/promotion-service.js';
import { describeChanges, outcomeOf } from './follow.js';

const view = (patch: Partial<PromotionView>): PromotionView => ({
  id: 'p-1',
  app: 'web',
  env: 'prod',
  tag: 'v2',
  apps: [{ app: 'web', tag: 'v2' }],
  state: 'waiting',
  kind: 'manual',
  image: 'registry.example.com/group/web',
  attempts: 0,
  createdAt: '2026-12-02T09:00:00.000Z',
  updatedAt: '2026-12-02T09:00:00.000Z',
  ...patch,
});

describe('how a followed promotion ends the command', () => {
  it.each([
    ['committed', 0],
    ['skipped', 0],
    ['failed', 1],
    ['cancelled', 1],
    ['superseded', 1],
    ['degraded', 1],
  ] as const)('%s → exit %i', (state, code) => {
    expect(outcomeOf(view({ state, reason: 'because' })).code).toBe(code);
  });

  it('says why: nothing to do for a skip, the reason for the rest', () => {
    expect(outcomeOf(view({ state: 'skipped', reason: 'prod already runs web:v2' })).note).toBe('nothing to do: prod already runs web:v2');
    expect(outcomeOf(view({ state: 'superseded', reason: 'superseded by p-2 (web:v3)' })).note).toBe('promotion p-1 superseded: superseded by p-2 (web:v3)');
    expect(outcomeOf(view({ state: 'failed', error: 'render check failed' })).note).toBe('promotion p-1 failed: render check failed');
    expect(outcomeOf(view({ state: 'committed' })).note).toBeUndefined();
  });
});

describe('the lines a watch prints', () => {
  it('prints a gate when it opens or closes, not at every countdown tick', () => {
    const first = view({ gates: [{ gate: 'soak', status: 'waiting', reason: 'soaking: 9m to go' }] });
    const tick = view({ gates: [{ gate: 'soak', status: 'waiting', reason: 'soaking: 8m to go' }] });
    const open = view({ state: 'queued', gates: [{ gate: 'soak', status: 'passed', reason: 'in the source environment for 10m' }] });
    expect(describeChanges(undefined, first)).toEqual(['p-1  web:v2 → prod  waiting (gates: soak)', 'gate soak: waiting (soaking: 9m to go)']);
    expect(describeChanges(first, tick)).toEqual([]);
    expect(describeChanges(tick, open)).toEqual(['gate soak: passed (in the source environment for 10m)', 'queued']);
  });
});
