import { describe, expect, it } from 'vitest';
import { mayApprove, mayPromote } from '../../src/domain/access.js';
import { evaluateGates, inWindow, nextOpening, parseFreeze, parseWindow } from '../../src/domain/gates.js';

describe('time windows', () => {
  const w = parseWindow('Mon-Fri 08:00-17:00 Europe/Berlin');
  it('knows the local day and time, across daylight saving', () => {
    expect(inWindow(w, new Date('2026-11-23T07:00:00Z'))).toBe(true); // Monday 08:00 CET
    expect(inWindow(w, new Date('2026-11-23T06:59:00Z'))).toBe(false);
    expect(inWindow(w, new Date('2026-07-06T06:30:00Z'))).toBe(true); // Monday 08:30 CEST
    expect(inWindow(w, new Date('2026-11-22T10:00:00Z'))).toBe(false); // Sunday
    expect(nextOpening(w, new Date('2026-11-21T12:00:00Z')).toISOString()).toBe('2026-11-23T07:00:00.000Z');
  });
  it('accepts lists, wrap-around ranges and UTC by default; refuses nonsense', () => {
    expect([...parseWindow('Sat,Sun 10:00-12:00').days].sort()).toEqual([0, 6]);
    expect([...parseWindow('Fri-Mon 00:00-24:00 UTC').days].sort()).toEqual([0, 1, 5, 6]);
    expect(() => parseWindow('Mon-Fri 17:00-08:00')).toThrow(/ends before it starts/);
    expect(() => parseWindow('Mon-Fri 08:00-17:00 Mars/Olympus')).toThrow(/unknown time zone/);
    expect(() => parseWindow('Funday 08:00-17:00')).toThrow(/unknown day/);
  });
});

describe('freezes', () => {
  it('covers whole days, both ends included, in the given zone', () => {
    const f = parseFreeze('2026-12-20/2027-01-04', 'Europe/Berlin');
    expect([f.start.toISOString(), f.end.toISOString()]).toEqual(['2026-12-19T23:00:00.000Z', '2027-01-04T23:00:00.000Z']);
    expect(() => parseFreeze('2027-01-04/2026-12-20')).toThrow(/ends before it starts/);
    expect(() => parseFreeze('next week')).toThrow(/date range/);
  });
});

describe('evaluateGates', () => {
  const landedAt = new Date('2026-11-23T09:00:00Z');
  it('waits for the soak and says until when; passes after', () => {
    const waiting = evaluateGates({ soakMs: 600_000 }, { landedAt, health: 'unknown' }, new Date('2026-11-23T09:04:00Z'));
    expect(waiting).toMatchObject({ passed: false, recheckAt: new Date('2026-11-23T09:10:00Z') });
    expect(waiting.results[0]!.reason).toBe('soaking: 6m to go (until 2026-11-23T09:10:00.000Z)');
    expect(evaluateGates({ soakMs: 600_000 }, { landedAt, health: 'unknown' }, new Date('2026-11-23T09:10:00Z')).passed).toBe(true);
  });
  it('needs a deployed report for the healthy gate; degraded says so', () => {
    expect(evaluateGates({ healthy: true }, { landedAt, health: 'deployed' }, landedAt).passed).toBe(true);
    expect(evaluateGates({ healthy: true }, { landedAt, health: 'degraded' }, landedAt).results[0]!.reason).toMatch(/degraded/);
  });
  it('passes with no gates at all', () => {
    expect(evaluateGates({}, { landedAt, health: 'unknown' }, landedAt)).toEqual({ passed: true, results: [], recheckAt: undefined });
  });
});

describe('rbac and approvals', () => {
  const rbac = { promote: { prod: ['alice', 'group:rm'], '*': ['*'] }, groups: { rm: ['carol'] } };
  it('lets the environment list decide, falling back to *', () => {
    expect(mayPromote(rbac, 'prod', { name: 'carol' })).toEqual({ ok: true });
    expect(mayPromote(rbac, 'prod', { name: 'eve' })).toMatchObject({ ok: false, reason: 'eve is not allowed to promote to prod (rbac.promote.prod)' });
    expect(mayPromote(rbac, 'staging', { name: 'eve' })).toEqual({ ok: true });
    expect(mayPromote(undefined, 'prod', { name: 'eve' })).toEqual({ ok: true });
    expect(mayPromote({ promote: { prod: ['alice'] }, groups: {} }, 'staging', { name: 'alice' }).ok).toBe(false);
  });
  it('refuses self-approval, outsiders and second approvals by the same person', () => {
    const policy = { required: 2, approvers: ['alice', 'bob', 'group:rm'], allowSelfApproval: false };
    expect(mayApprove(policy, rbac.groups, { requestedBy: 'alice', approvedBy: [] }, { name: 'alice' }).ok).toBe(false);
    expect(mayApprove({ ...policy, allowSelfApproval: true }, rbac.groups, { requestedBy: 'alice', approvedBy: [] }, { name: 'alice' }).ok).toBe(true);
    expect(mayApprove(policy, rbac.groups, { requestedBy: 'alice', approvedBy: ['bob'] }, { name: 'bob' })).toMatchObject({ ok: false, reason: expect.stringMatching(/counts once/) });
    expect(mayApprove(policy, rbac.groups, { requestedBy: 'alice', approvedBy: [] }, { name: 'carol' }).ok).toBe(true);
    expect(mayApprove(policy, rbac.groups, { requestedBy: 'alice', approvedBy: [] }, { name: 'eve' }).ok).toBe(false);
  });
  it('counts the groups a sign-in gives a person, by their full path', () => {
    const byIdp = { promote: { prod: ['group:platform/release-managers'] }, groups: {} };
    expect(mayPromote(byIdp, 'prod', { name: 'erin', groups: ['platform/release-managers'] })).toEqual({ ok: true });
    expect(mayPromote(byIdp, 'prod', { name: 'erin', groups: ['platform'] }).ok).toBe(false);
    expect(mayPromote(byIdp, 'prod', { name: 'erin' }).ok).toBe(false);
    const policy = { required: 1, approvers: ['group:platform/release-managers'], allowSelfApproval: false };
    expect(mayApprove(policy, {}, { requestedBy: 'alice', approvedBy: [] }, { name: 'erin', groups: ['platform/release-managers'] }).ok).toBe(true);
    // A rbac.groups entry named like a prototype key is still just a name.
    expect(mayPromote({ promote: { prod: ['group:constructor'] }, groups: {} }, 'prod', { name: 'erin' }).ok).toBe(false);
  });
});
