import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { rolloutFixture, type LiveRollout } from './argocd-stub.js';
import { PROJECT_ROOT } from './git-repos.js';

/** The canary steps of the reference Rollout (gitops-manifests/rollouts/base/rollout.yaml): what the cluster runs. */
export const STEPS = (parse(readFileSync(join(PROJECT_ROOT, 'gitops-manifests/rollouts/base/rollout.yaml'), 'utf8')) as LiveRollout).spec.strategy.canary?.steps ?? [];

/** Where the Rollouts controller has got to after a step (the tests play the controller). */
export interface ControllerStep {
  index: number;
  paused: boolean;
  phase: string;
  message?: string;
  promoted?: boolean;
  aborted?: boolean;
}

/**
 * web's live Rollout in `web-<env>`, running `tag`: Argo CD's own paused-canary test data
 * (test/fixtures/argocd/rollout-canary-paused.yaml) with the reference steps; with `at`, its status moved there,
 * else as the fixture has it (paused at its `pause: {}` step).
 */
export function webCanary(env: string, tag: string, at?: ControllerStep): LiveRollout {
  const r = rolloutFixture('canary-paused');
  r.metadata = { ...r.metadata, name: 'web', namespace: `web-${env}` };
  r.spec.strategy.canary = { stableService: 'web-stable', canaryService: 'web-canary', steps: STEPS };
  r.spec.template.spec.containers[0]!.image = `registry.example.com/group/web:${tag}`;
  if (at) playController(r, at);
  return r;
}

/** What the Rollouts controller would write into status after a step. */
export function playController(r: LiveRollout, at: ControllerStep): void {
  const status = r.status;
  status.currentStepIndex = at.index;
  if (at.paused) {
    status.pauseConditions = [{ reason: 'CanaryPauseStep', startTime: '2026-03-02T09:00:00Z' }];
    status.controllerPause = true;
  } else {
    delete status.pauseConditions;
    delete status.controllerPause;
  }
  status.phase = at.phase;
  if (at.message === undefined) delete status.message;
  else status.message = at.message;
  if (at.promoted) status.stableRS = status.currentPodHash;
  if (at.aborted) status.abort = true;
}
