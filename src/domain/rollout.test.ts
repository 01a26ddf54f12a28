import { describe, expect, it } from 'vitest';
import { rolloutFixture as fixture } from '../../test/helpers/argocd-stub.js';
import { parseFreeze, parseWindow } from './gates.js';
import { actionRefusal, decideAutoPromote, formatRollout, judgeRollout, mayDriveRollout, readRollout, runsTag, type RolloutState } from './rollout.js';

// fixture(name): a fresh copy of an upstream Rollout (test/fixtures/argocd/README.md says where each comes from).
const read = (live: unknown): RolloutState => {
  const state = readRollout(live);
  if (!state) throw new Error('not a Rollout');
  return state;
};

describe('readRollout on Argo CD’s and Argo Rollouts’ own test data', () => {
  it('reads a canary paused at its pause step: step 2 of 8 at the weight of the step before', () => {
    const state = read(fixture('canary-paused'));
    expect(state.view).toEqual({ strategy: 'canary', name: 'rollouts-demo', step: 2, steps: 8, weight: 21, paused: true, pauseReason: 'CanaryPauseStep', phase: 'Paused', message: 'CanaryPauseStep' });
    // health_test.yaml: Suspended with the message "CanaryPauseStep".
    expect(state.health).toBe('Suspended');
    expect(state.healthMessage).toBe('CanaryPauseStep');
    expect(state.fullyPromoted).toBe(false);
    expect(state.waitingPause).toEqual({ key: '8566c77b97:step-1', since: '2021-07-15T21:08:55Z' });
    expect(judgeRollout(state).verdict).toBe('progressing');
    expect(formatRollout(state.view)).toBe('canary 2/8 at 21 %, paused');
  });

  it('reads an aborted canary (no status.phase, as before Rollouts v1.0) as Degraded at weight 0', () => {
    const state = read(fixture('canary-aborted'));
    expect(state.health).toBe('Degraded');
    expect(state.healthMessage).toBe('Rollout is aborted');
    expect(state.view).toMatchObject({ strategy: 'canary', step: 1, steps: 6, weight: 0, paused: false, phase: 'Degraded' });
    expect(judgeRollout(state)).toEqual({ verdict: 'degraded', why: 'Rollout canary-demo is Degraded (aborted): Rollout is aborted' });
    expect(formatRollout(state.view)).toBe('canary 1/6 at 0 %, degraded');
  });

  it('reads a canary that ran every step as fully promoted and Healthy', () => {
    const state = read(fixture('canary-healthy'));
    expect(state.view).toMatchObject({ step: 4, steps: 4, weight: 100, paused: false, phase: 'Healthy' });
    expect(state.fullyPromoted).toBe(true);
    expect(judgeRollout(state).verdict).toBe('deployed');
    expect(formatRollout(state.view)).toBe('canary 4/4 at 100 %, healthy');
    expect(runsTag(state, '0.1')).toBe(true);
    expect(runsTag(state, '0.2')).toBe(false);
  });

  it('reads a blue-green Rollout whose preview is up and waits for promotion', () => {
    const state = read(fixture('bluegreen-paused'));
    expect(state.view).toEqual({ strategy: 'blueGreen', name: 'bluegreen-demo', previewReady: true, paused: true, pauseReason: 'BlueGreenPause', phase: 'Paused', message: 'Rollout is paused' });
    expect(state.view.step).toBeUndefined();
    expect(state.waitingPause?.key).toBe('74b948fccb:blue-green');
    expect(judgeRollout(state).verdict).toBe('progressing');
    expect(formatRollout(state.view)).toBe('blue-green, preview ready, paused');
    const promoted = fixture('bluegreen-paused');
    promoted.status.blueGreen = { ...promoted.status.blueGreen, activeSelector: promoted.status.currentPodHash };
    promoted.status.stableRS = promoted.status.currentPodHash;
    delete promoted.status.pauseConditions;
    expect(read(promoted).view.previewReady).toBe(false);
  });

  it('follows health.lua where the fixtures do not reach: a spec not observed yet, a resuming controller, traffic weights', () => {
    const unobserved = fixture('canary-paused');
    unobserved.metadata.generation = 6;
    expect(read(unobserved).health).toBe('Progressing');
    // controllerPause with its conditions cleared: resuming (Argo Rollouts' IsUnpausing), not paused.
    const resuming = fixture('canary-paused');
    delete resuming.status.pauseConditions;
    delete resuming.status.phase;
    expect(read(resuming).view.paused).toBe(false);
    const routed = fixture('canary-paused');
    routed.status.canary = { weights: { canary: { weight: 17 }, stable: { weight: 83 } } };
    expect(read(routed).view.weight).toBe(17);
    const byHand = fixture('canary-paused');
    byHand.spec.paused = true;
    delete byHand.status.pauseConditions;
    const state = read(byHand);
    expect(state.view.paused).toBe(true);
    expect(state.waitingPause).toBeUndefined();
    expect(readRollout({ kind: 'Deployment', metadata: { name: 'web' } })).toBeUndefined();
    expect(readRollout(null)).toBeUndefined();
  });
});

describe('actionRefusal (discovery.lua)', () => {
  it('refuses resume when not paused and abort or promote-full once fully promoted', () => {
    const healthy = read(fixture('canary-healthy'));
    expect(actionRefusal(healthy, 'resume')).toMatch(/not paused/);
    expect(actionRefusal(healthy, 'promote-full')).toMatch(/already fully promoted/);
    expect(actionRefusal(healthy, 'abort')).toMatch(/roll back instead/);
    const paused = read(fixture('canary-paused'));
    for (const action of ['resume', 'promote-full', 'abort'] as const) expect(actionRefusal(paused, action)).toBeUndefined();
    expect(actionRefusal(read(fixture('canary-aborted')), 'abort')).toMatch(/already aborted/);
  });
});

describe('mayDriveRollout', () => {
  const rbac = { promote: { prod: ['alice', 'bob', 'group:sre'] }, groups: { sre: ['carol'] } };
  const prod = { name: 'prod', approvals: { required: 1, approvers: ['bob', 'group:sre'], allowSelfApproval: false } };

  it('takes rbac.promote for every action, and an approver for what lets the version through', () => {
    expect(mayDriveRollout(rbac, prod, 'abort', { name: 'mallory' })).toEqual({ ok: false, reason: expect.stringMatching(/mallory is not allowed to promote to prod.*same rights as promoting/) });
    expect(mayDriveRollout(rbac, prod, 'abort', { name: 'alice' })).toEqual({ ok: true });
    expect(mayDriveRollout(rbac, prod, 'resume', { name: 'alice' })).toEqual({ ok: false, reason: expect.stringMatching(/alice is not among the approvers of prod/) });
    expect(mayDriveRollout(rbac, prod, 'promote-full', { name: 'carol' })).toEqual({ ok: true });
    expect(mayDriveRollout(rbac, prod, 'resume', { name: 'bob' }, 'bob')).toEqual({ ok: false, reason: expect.stringMatching(/bob requested this promotion/) });
    expect(mayDriveRollout(undefined, { name: 'dev' }, 'resume', { name: 'anyone' })).toEqual({ ok: true });
  });
});

describe('decideAutoPromote', () => {
  const policy = { afterMs: 10 * 60_000, healthy: true };
  const t0 = new Date('2026-03-02T10:00:00Z');
  const later = (ms: number) => new Date(t0.getTime() + ms);

  it('resumes a healthy pause once, after the time, and not a second time', () => {
    const rollout = read(fixture('canary-paused'));
    const first = decideAutoPromote({ policy, rollout, applicationHealth: 'Suspended', memory: {}, gates: undefined, now: t0 });
    expect(first).toMatchObject({ resume: false, recheckAt: later(10 * 60_000) });
    const early = decideAutoPromote({ policy, rollout, applicationHealth: 'Suspended', memory: first.memory, gates: undefined, now: later(9 * 60_000) });
    expect(early.resume).toBe(false);
    const due = decideAutoPromote({ policy, rollout, applicationHealth: 'Suspended', memory: early.memory, gates: undefined, now: later(10 * 60_000) });
    expect(due.resume).toBe(true);
    expect(decideAutoPromote({ policy, rollout, applicationHealth: 'Suspended', memory: due.memory, gates: undefined, now: later(20 * 60_000) }).resume).toBe(false);
  });

  it('starts the time again when the canary is not healthy, and ignores pauses with a duration and pauses by hand', () => {
    const rollout = read(fixture('canary-paused'));
    const first = decideAutoPromote({ policy, rollout, applicationHealth: 'Suspended', memory: {}, gates: undefined, now: t0 });
    const sick = decideAutoPromote({ policy, rollout, applicationHealth: 'Degraded', memory: first.memory, gates: undefined, now: later(5 * 60_000) });
    expect(sick).toMatchObject({ resume: false, reason: expect.stringMatching(/not healthy/) });
    const again = decideAutoPromote({ policy, rollout, applicationHealth: 'Suspended', memory: sick.memory, gates: undefined, now: later(11 * 60_000) });
    expect(again.resume).toBe(false);
    const timed = fixture('canary-paused');
    timed.status.currentStepIndex = 3;
    expect(decideAutoPromote({ policy, rollout: read(timed), applicationHealth: 'Suspended', memory: {}, gates: undefined, now: t0 }).reason).toBe('no pause that waits for someone');
    // Without the health condition, the pause's own start time counts: a pause from 2021 is long over.
    expect(decideAutoPromote({ policy: { afterMs: policy.afterMs, healthy: false }, rollout, applicationHealth: 'Suspended', memory: {}, gates: undefined, now: t0 }).resume).toBe(true);
  });

  it('waits outside the window and inside a freeze, as gates do', () => {
    const rollout = read(fixture('canary-paused'));
    const memory = { key: '8566c77b97:step-1', since: t0.toISOString() };
    const due = later(10 * 60_000);
    const closed = decideAutoPromote({ policy, rollout, applicationHealth: 'Suspended', memory, gates: { window: parseWindow('Sat 08:00-09:00 UTC') }, now: due });
    expect(closed).toMatchObject({ resume: false, reason: expect.stringMatching(/outside the window/) });
    expect(closed.recheckAt?.toISOString()).toBe('2026-03-07T08:00:00.000Z');
    const frozen = decideAutoPromote({ policy, rollout, applicationHealth: 'Suspended', memory, gates: { freeze: [parseFreeze('2026-03-01/2026-03-03')] }, now: due });
    expect(frozen).toMatchObject({ resume: false, reason: expect.stringMatching(/inside the freeze/) });
    expect(decideAutoPromote({ policy, rollout, applicationHealth: 'Suspended', memory, gates: { window: parseWindow('Mon 08:00-12:00 UTC') }, now: due }).resume).toBe(true);
  });
});
