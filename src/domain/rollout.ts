/**
 * Argo Rollouts, read and judged, pure: a live Rollout object in, what Hoist shows and decides out. The rules mirror
 * the ones Argo CD applies to a Rollout (argo-cd `resource_customizations/argoproj.io/Rollout/health.lua` for its
 * health, `actions/discovery.lua` for which actions make sense), so Hoist agrees with the Argo CD UI even where an
 * install's own health check says less (an override that always answers Healthy, say).
 */
import { isMember, mayPromote, type ApprovalPolicy, type Person, type Rbac, type Verdict } from './access.js';
import { evaluateGates, type Gates } from './gates.js';

export type RolloutStrategy = 'canary' | 'blueGreen';

/** Argo CD's built-in Rollout actions that Hoist drives (argo-cd `resource_customizations/argoproj.io/Rollout/actions/`). */
export const ROLLOUT_ACTIONS = ['resume', 'promote-full', 'abort'] as const;
export type RolloutAction = (typeof ROLLOUT_ACTIONS)[number];

export const isRolloutAction = (value: string): value is RolloutAction => (ROLLOUT_ACTIONS as readonly string[]).includes(value);

/** A Rollout's progress as the API, the board, chat and the CLI show it. */
export interface RolloutView {
  strategy: RolloutStrategy;
  /** The Rollout's name in the cluster. */
  name: string;
  /** Canary: the current step, counted from 1 (capped to `steps` once every step ran). */
  step?: number;
  steps?: number;
  /** Canary: the weight the current step set (the traffic weight, when the Rollout reports one), in percent. */
  weight?: number;
  /** Blue-green: the new version runs behind the preview Service and waits for promotion. */
  previewReady?: boolean;
  paused: boolean;
  /** Why it is paused, in Argo Rollouts' words (`CanaryPauseStep`, `BlueGreenPause`, `AnalysisRunInconclusive`…). */
  pauseReason?: string;
  /** Argo Rollouts' phase: Healthy, Progressing, Paused or Degraded. */
  phase: string;
  message?: string;
}

/** Argo CD's health words for a Rollout (health.lua); `Suspended` is a paused Rollout. */
export type RolloutHealth = 'Healthy' | 'Progressing' | 'Suspended' | 'Degraded';

/** Everything Hoist judges a Rollout by. */
export interface RolloutState {
  view: RolloutView;
  namespace: string;
  /** The images of its pod template's containers (empty for a Rollout that references a Deployment). */
  images: string[];
  health: RolloutHealth;
  healthMessage?: string;
  /** The new version serves everything: `status.currentPodHash` is the stable one (discovery.lua's `fullyPromoted`). */
  fullyPromoted: boolean;
  aborted: boolean;
  /** Paused by a person (`spec.paused`, `kubectl argo rollouts pause`) rather than by a step. */
  pausedBySpec: boolean;
  /** The current pause, when it waits for someone: an indefinite `pause: {}` step or a blue-green promotion. */
  waitingPause?: { key: string; since?: string };
  /** Every pod the new version runs is available. */
  podsAvailable: boolean;
}

type Json = Record<string, unknown>;

const obj = (value: unknown): Json | undefined => (typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : undefined);
const at = (value: unknown, ...path: string[]): unknown => {
  let current = value;
  for (const key of path) current = obj(current)?.[key];
  return current;
};
const str = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);
const num = (value: unknown): number | undefined => (typeof value === 'number' && Number.isFinite(value) ? value : undefined);
const list = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);

/** The integer of a Kubernetes number field, which old Rollouts wrote as a string (observedGeneration). */
const integer = (value: unknown): number | undefined => {
  if (typeof value === 'number') return Number.isInteger(value) ? value : undefined;
  return typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : undefined;
};

/**
 * health.lua's `isGenerationObserved` and `isWorkloadGenerationObserved`: a numeric observedGeneration behind
 * metadata.generation means the controller has not seen the new spec yet; a hash (Rollouts up to v0.9) says nothing.
 */
function specObserved(rollout: Json, status: Json): boolean {
  const observed = integer(status.observedGeneration);
  const generation = integer(at(rollout, 'metadata', 'generation'));
  if (observed !== undefined && generation !== undefined && observed <= generation && observed !== generation) return false;
  if (at(rollout, 'spec', 'workloadRef') !== undefined) {
    const wanted = integer(at(rollout, 'metadata', 'annotations', 'rollout.argoproj.io/workload-generation'));
    if (wanted !== undefined && wanted !== integer(status.workloadObservedGeneration)) return false;
  }
  return true;
}

/** Argo CD's health of a Rollout, rule for rule as health.lua has it. */
function healthOf(rollout: Json, status: Json | undefined, paused: boolean): { health: RolloutHealth; message?: string } {
  if (!status || !specObserved(rollout, status)) return { health: 'Progressing', message: 'Waiting for rollout spec update to be observed' };
  const phase = str(status.phase);
  // Argo Rollouts v1.0+ records phase and message itself; Argo CD surfaces them as they are.
  if (phase !== undefined) {
    const health: RolloutHealth = phase === 'Paused' ? 'Suspended' : phase === 'Healthy' || phase === 'Degraded' ? phase : 'Progressing';
    const message = str(status.message);
    return message ? { health, message } : { health };
  }
  for (const condition of list(status.conditions)) {
    const type = at(condition, 'type');
    const reason = at(condition, 'reason');
    const message = str(at(condition, 'message'));
    if (type === 'InvalidSpec' || (type === 'Progressing' && (reason === 'RolloutAborted' || reason === 'ProgressDeadlineExceeded'))) {
      return message ? { health: 'Degraded', message } : { health: 'Degraded' };
    }
  }
  if (paused) return { health: 'Suspended', message: 'Rollout is paused' };
  const currentPodHash = str(status.currentPodHash);
  if (!currentPodHash) return { health: 'Progressing', message: 'Waiting for rollout to finish: status has not been reconciled.' };
  const desired = num(at(rollout, 'spec', 'replicas')) ?? 1;
  const replicas = num(status.replicas) ?? 0;
  const updated = num(status.updatedReplicas) ?? 0;
  const available = num(status.availableReplicas) ?? 0;
  if (updated < desired) return { health: 'Progressing', message: 'Waiting for roll out to finish: More replicas need to be updated' };
  if (available < updated) return { health: 'Progressing', message: 'Waiting for roll out to finish: updated replicas are still becoming available' };
  const stableRS = stableOf(status);
  if (at(rollout, 'spec', 'strategy', 'blueGreen') !== undefined) {
    if (at(status, 'blueGreen', 'activeSelector') !== currentPodHash) return { health: 'Progressing', message: 'active service cutover pending' };
    if (stableRS !== undefined && stableRS !== currentPodHash) return { health: 'Progressing', message: 'waiting for analysis to complete' };
  } else if (at(rollout, 'spec', 'strategy', 'canary') !== undefined) {
    if (replicas > updated) return { health: 'Progressing', message: 'Waiting for roll out to finish: old replicas are pending termination' };
    if (stableRS === undefined || stableRS !== currentPodHash) return { health: 'Progressing', message: 'Waiting for rollout to finish steps' };
  }
  return { health: 'Healthy' };
}

/** Rollouts v0.8 moved `status.canary.stableRS` to `status.stableRS`; health.lua reads both. */
const stableOf = (status: Json) => str(status.stableRS) ?? str(at(status, 'canary', 'stableRS'));

/** The weight of a canary at its current step: Argo Rollouts' `GetCurrentSetWeight` (utils/replicaset/canary.go). */
function canaryWeight(steps: unknown[], index: number | undefined, status: Json, aborted: boolean): number {
  if (aborted) return 0;
  // With traffic routing the Rollout reports the weight it actually set.
  const routed = num(at(status, 'canary', 'weights', 'canary', 'weight'));
  if (routed !== undefined) return routed;
  if (index === undefined || index >= steps.length) return 100;
  for (let i = index; i >= 0; i--) {
    const weight = num(at(steps[i], 'setWeight'));
    if (weight !== undefined) return weight;
  }
  return 0;
}

/**
 * Reads a live Rollout (the manifest Argo CD's `GET …/resource` returns). Undefined when it is not a Rollout with a
 * canary or blue-green strategy: there is then nothing to follow.
 */
export function readRollout(live: unknown): RolloutState | undefined {
  const rollout = obj(live);
  if (!rollout || at(rollout, 'kind') !== 'Rollout') return undefined;
  const name = str(at(rollout, 'metadata', 'name'));
  const canary = obj(at(rollout, 'spec', 'strategy', 'canary'));
  const blueGreen = obj(at(rollout, 'spec', 'strategy', 'blueGreen'));
  if (!name || (!canary && !blueGreen)) return undefined;
  const status = obj(rollout.status);
  const pauseConditions = list(status?.pauseConditions);
  const pausedBySpec = at(rollout, 'spec', 'paused') === true;
  // health.lua's checkPaused. `controllerPause` alone (its conditions already cleared) is a Rollout that is resuming.
  const paused = pauseConditions.length > 0 || pausedBySpec;
  const { health, message: healthMessage } = healthOf(rollout, status, paused);
  const aborted = status?.abort === true;
  const currentPodHash = str(status?.currentPodHash);
  const stableRS = status ? stableOf(status) : undefined;
  const fullyPromoted =
    currentPodHash !== undefined && stableRS === currentPodHash && (!blueGreen || at(status, 'blueGreen', 'activeSelector') === currentPodHash);
  const pauseReason = str(at(pauseConditions[0], 'reason'));
  const pauseSince = str(at(pauseConditions[0], 'startTime'));
  const phase = str(status?.phase) ?? (health === 'Suspended' ? 'Paused' : health);
  const message = str(status?.message) ?? healthMessage;
  const view: RolloutView = { strategy: canary ? 'canary' : 'blueGreen', name, paused, phase };
  let waitingPause: RolloutState['waitingPause'];
  if (canary) {
    const steps = list(canary.steps);
    const index = integer(status?.currentStepIndex);
    if (steps.length > 0) {
      view.step = Math.min((index ?? 0) + 1, steps.length);
      view.steps = steps.length;
    }
    view.weight = canaryWeight(steps, index, status ?? {}, aborted);
    // Only a `pause: {}` step waits for someone; a pause with a duration ends by itself.
    const current = index === undefined ? undefined : steps[index];
    const step = obj(at(current, 'pause'));
    if (paused && !pausedBySpec && pauseReason === 'CanaryPauseStep' && step && at(step, 'duration') === undefined) {
      waitingPause = { key: `${currentPodHash ?? ''}:step-${index ?? 0}`, ...(pauseSince ? { since: pauseSince } : {}) };
    }
  } else {
    const previewSelector = str(at(status, 'blueGreen', 'previewSelector'));
    view.previewReady = currentPodHash !== undefined && previewSelector === currentPodHash && at(status, 'blueGreen', 'activeSelector') !== currentPodHash;
    if (paused && !pausedBySpec && pauseReason === 'BlueGreenPause') {
      waitingPause = { key: `${currentPodHash ?? ''}:blue-green`, ...(pauseSince ? { since: pauseSince } : {}) };
    }
  }
  if (pauseReason) view.pauseReason = pauseReason;
  if (message) view.message = message;
  const images = list(at(rollout, 'spec', 'template', 'spec', 'containers')).flatMap((c) => str(at(c, 'image')) ?? []);
  return {
    view,
    namespace: str(at(rollout, 'metadata', 'namespace')) ?? '',
    images,
    health,
    ...(healthMessage ? { healthMessage } : {}),
    fullyPromoted,
    aborted,
    pausedBySpec,
    ...(waitingPause ? { waitingPause } : {}),
    podsAvailable: (num(status?.availableReplicas) ?? 0) >= (num(status?.updatedReplicas) ?? 0),
  };
}

/** The tag of an image reference `name[:tag][@digest]` (a registry port is no tag). */
function tagOf(image: string): string | undefined {
  const noDigest = image.split('@')[0] ?? '';
  const slash = noDigest.lastIndexOf('/');
  const colon = noDigest.lastIndexOf(':');
  return colon > slash ? noDigest.slice(colon + 1) : undefined;
}

/**
 * Does the Rollout's spec run this tag? A Rollout whose pod template lives in a Deployment (`workloadRef`) has no
 * containers of its own: the Application's revision is all there is to go by.
 */
export function runsTag(rollout: RolloutState, tag: string): boolean {
  return rollout.images.length === 0 || rollout.images.some((image) => tagOf(image) === tag);
}

export type RolloutVerdict = 'deployed' | 'degraded' | 'progressing';

/**
 * What the Rollout says about its version: deployed only once fully promoted and Healthy; Degraded (aborted, failed
 * analysis, progress deadline) is degraded; paused (`Suspended`) and everything in between is neither.
 */
export function judgeRollout(rollout: RolloutState): { verdict: RolloutVerdict; why: string } {
  const what = `Rollout ${rollout.view.name}`;
  if (rollout.health === 'Degraded' || rollout.aborted) {
    return { verdict: 'degraded', why: `${what} is Degraded${rollout.aborted ? ' (aborted)' : ''}${rollout.healthMessage ? `: ${rollout.healthMessage}` : ''}` };
  }
  if (rollout.health === 'Healthy' && rollout.fullyPromoted) return { verdict: 'deployed', why: `${what} is fully promoted and Healthy` };
  return { verdict: 'progressing', why: `${what} is ${formatRollout(rollout.view)}` };
}

/** "canary 2/5 at 20 %, paused", "blue-green, preview ready, paused", "canary 5/5 at 100 %, healthy": one line for every surface. */
export function formatRollout(view: RolloutView): string {
  const state = view.paused ? 'paused' : view.phase === 'Degraded' ? 'degraded' : view.phase === 'Healthy' ? 'healthy' : 'progressing';
  // The reason of a step's or a promotion's pause goes without saying; an inconclusive analysis does not.
  const reason = view.paused && view.pauseReason && !['CanaryPauseStep', 'BlueGreenPause'].includes(view.pauseReason) ? `: ${view.pauseReason}` : '';
  if (view.strategy === 'blueGreen') return `blue-green${view.previewReady ? ', preview ready' : ''}, ${state}${reason}`;
  const step = view.step !== undefined && view.steps !== undefined ? ` ${view.step}/${view.steps}` : '';
  return `canary${step} at ${view.weight ?? 0} %, ${state}${reason}`;
}

/**
 * Which actions make sense now, after discovery.lua: resume a paused Rollout; promote-full or abort one that is not
 * fully promoted (abort once). A refusal says why, so a person is not left guessing.
 */
export function actionRefusal(rollout: RolloutState, action: RolloutAction): string | undefined {
  const what = `Rollout ${rollout.view.name} (${formatRollout(rollout.view)})`;
  if (action === 'resume' && !rollout.view.paused) return `${what} is not paused: nothing to resume`;
  if (action === 'promote-full' && rollout.fullyPromoted) return `${what} is already fully promoted`;
  if (action === 'abort' && rollout.fullyPromoted) return `${what} is fully promoted: there is no canary to abort (roll back instead)`;
  if (action === 'abort' && rollout.aborted) return `${what} is already aborted`;
  return undefined;
}

/**
 * The rules of `promote` in that environment: rbac.promote for every action; resume and promote-full let the version
 * through to more users, as an approval does, so where the environment needs approvals they take an approver (and
 * not the one who asked for the version, unless allowSelfApproval). Abort only stops it: rbac is enough.
 */
export function mayDriveRollout(
  rbac: Rbac | undefined,
  env: { name: string; approvals?: ApprovalPolicy | undefined },
  action: RolloutAction,
  person: Person,
  requestedBy?: string,
): Verdict {
  const promote = mayPromote(rbac, env.name, person);
  if (!promote.ok) return { ok: false, reason: `${promote.reason}; ${action} of a Rollout takes the same rights as promoting there` };
  const policy = env.approvals;
  if (action === 'abort' || !policy) return { ok: true };
  if (!isMember(person, policy.approvers, rbac?.groups ?? {})) {
    return { ok: false, reason: `${person.name} is not among the approvers of ${env.name} (${policy.approvers.join(', ')}): ${action} lets the version through, as an approval does` };
  }
  if (!policy.allowSelfApproval && requestedBy === person.name) {
    return { ok: false, reason: `${person.name} requested this promotion and cannot ${action} it too (allowSelfApproval is false)` };
  }
  return { ok: true };
}

export interface AutoPromotePolicy {
  /** How long the pause must have lasted (healthy, with `healthy`) before Hoist resumes it. */
  afterMs: number;
  /** Count only time in which the canary's pods are available and nothing says Degraded. */
  healthy: boolean;
}

/** What Hoist remembers between two looks at a Rollout: the pause it is timing, and the pauses it already resumed. */
export interface AutoPromoteMemory {
  key?: string | undefined;
  since?: string | undefined;
  resumed?: string[] | undefined;
}

export interface AutoPromoteDecision {
  resume: boolean;
  memory: AutoPromoteMemory;
  reason: string;
  /** When looking again could change the answer (the time is up, a window opens, a freeze ends). */
  recheckAt?: Date | undefined;
}

/** How many resumed pauses to remember: a canary has a handful; the bound keeps the record small. */
const RESUMED_KEPT = 50;

/**
 * autoPromote, pure: resume an indefinite pause once the canary has been (healthy and) paused for `afterMs`, once per
 * pause, and only inside the environment's window and outside its freezes, as gates have it.
 */
export function decideAutoPromote(input: {
  policy: AutoPromotePolicy;
  rollout: RolloutState;
  /** The Application's health as Argo CD reports it. */
  applicationHealth: string;
  memory: AutoPromoteMemory;
  gates: Pick<Gates, 'window' | 'freeze'> | undefined;
  now: Date;
}): AutoPromoteDecision {
  const { policy, rollout, memory, now } = input;
  const resumed = memory.resumed ?? [];
  const pause = rollout.waitingPause;
  if (!pause) return { resume: false, memory: { resumed }, reason: 'no pause that waits for someone' };
  if (resumed.includes(pause.key)) return { resume: false, memory: { ...memory, resumed }, reason: 'this pause was resumed already' };
  const healthy = rollout.podsAvailable && rollout.health !== 'Degraded' && input.applicationHealth !== 'Degraded';
  if (policy.healthy && !healthy) return { resume: false, memory: { resumed }, reason: 'the canary is not healthy: the time starts again once it is' };
  // Timing starts when Hoist first sees this pause (healthy); without the health condition the pause's own start counts.
  const seen = memory.key === pause.key && memory.since ? memory.since : now.toISOString();
  const since = !policy.healthy && pause.since && Date.parse(pause.since) < Date.parse(seen) ? pause.since : seen;
  const next: AutoPromoteMemory = { key: pause.key, since, resumed };
  const readyAt = new Date(Date.parse(since) + policy.afterMs);
  if (now < readyAt) return { resume: false, memory: next, reason: `paused${policy.healthy ? ' and healthy' : ''} since ${since}: resumes at ${readyAt.toISOString()}`, recheckAt: readyAt };
  const gates = evaluateGates({ window: input.gates?.window, freeze: input.gates?.freeze }, { landedAt: now, health: 'unknown' }, now);
  if (!gates.passed) {
    const why = gates.results.filter((r) => r.status === 'waiting').map((r) => r.reason).join('; ');
    return { resume: false, memory: next, reason: `ready, but waiting: ${why}`, recheckAt: gates.recheckAt };
  }
  return { resume: true, memory: { resumed: [...resumed, pause.key].slice(-RESUMED_KEPT) }, reason: `paused${policy.healthy ? ' and healthy' : ''} since ${since}` };
}
