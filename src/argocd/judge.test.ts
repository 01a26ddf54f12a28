import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type ApplicationState, readApplicationState } from './client.js';
import { judgeApplication } from './judge.js';

const fixture = JSON.parse(readFileSync(new URL('../../test/fixtures/argocd/application.json', import.meta.url), 'utf8')) as Record<string, unknown>;

const state = (fields: Partial<ApplicationState>): ApplicationState => ({ name: 'web-dev', sync: 'Synced', health: 'Healthy', ...fields });

describe('judgeApplication', () => {
  it('calls the fixture Application (Synced, Healthy, last sync Succeeded) deployed', () => {
    const read = readApplicationState(fixture);
    expect(read).toMatchObject({ name: 'velero-test', sync: 'Synced', health: 'Healthy', phase: 'Succeeded' });
    expect(judgeApplication(read as ApplicationState)).toBe('deployed');
  });

  it.each([
    // [sync, health, phase, verdict]
    ['Synced', 'Healthy', 'Succeeded', 'deployed'],
    ['Synced', 'Healthy', undefined, 'deployed'],
    ['Synced', 'Healthy', 'Running', 'progressing'],
    ['Synced', 'Healthy', 'Terminating', 'progressing'],
    ['OutOfSync', 'Healthy', 'Succeeded', 'progressing'],
    ['Unknown', 'Healthy', 'Succeeded', 'progressing'],
    ['Synced', 'Progressing', 'Succeeded', 'progressing'],
    ['Synced', 'Suspended', 'Succeeded', 'progressing'],
    ['Synced', 'Missing', 'Succeeded', 'progressing'],
    ['Synced', 'Unknown', undefined, 'progressing'],
    ['Synced', 'Degraded', 'Succeeded', 'degraded'],
    ['OutOfSync', 'Degraded', 'Running', 'degraded'],
    ['OutOfSync', 'Degraded', undefined, 'degraded'],
    ['OutOfSync', 'Healthy', 'Failed', 'failed'],
    ['OutOfSync', 'Progressing', 'Error', 'failed'],
    ['Synced', 'Healthy', 'Failed', 'failed'],
    // A failed sync is the cause to report, even when health already shows Degraded.
    ['OutOfSync', 'Degraded', 'Failed', 'failed'],
  ] as const)('%s / %s / %s is %s', (sync, health, phase, verdict) => {
    expect(judgeApplication(state({ sync, health, ...(phase ? { phase } : {}) }))).toBe(verdict);
  });
});
