import { z } from 'zod';
import { HoistError } from '../errors.js';
import { type ApplicationState, readApplicationState } from './client.js';

/**
 * What Argo CD notifications POST to /webhooks/argocd. Our templates
 * (gitops-manifests/argocd/notifications-cm.yaml) send
 *
 *   {"trigger": "on-deployed", "application": "web-dev", "revision": "<sha>", "sync": "Synced",
 *    "health": "Healthy", "phase": "Succeeded", "message": "successfully synced (all tasks run)"}
 *
 * rendered from `.app.metadata.name`, `.app.status.sync.revision`, `.app.status.sync.status`,
 * `.app.status.health.status`, `.app.status.operationState.phase` and a message. Hand-written templates
 * may instead embed the whole Application (`{"app": {{toJson .app}}}`) or send it as the body itself.
 */
export const ARGO_TRIGGERS = ['on-deployed', 'on-health-degraded', 'on-sync-failed'] as const;
export type ArgoTrigger = (typeof ARGO_TRIGGERS)[number];

export interface ApplicationNotice {
  trigger?: ArgoTrigger;
  state: ApplicationState;
}

/**
 * A templated value. Go's text/template prints `<no value>` for a missing key and sprig's `toJson` gives
 * null; an existing but empty field renders as "". All of them mean "not known".
 */
const templated = z
  .string()
  .nullish()
  .transform((value) => {
    const trimmed = value?.trim();
    return trimmed === undefined || trimmed === '' || trimmed === '<no value>' ? undefined : trimmed;
  });

export const argoNotificationSchema = z.looseObject({
  trigger: templated,
  application: templated,
  revision: templated,
  sync: templated,
  health: templated,
  phase: templated,
  message: templated,
  app: z.record(z.string(), z.unknown()).optional(),
});

const isTrigger = (value: string): value is ArgoTrigger => (ARGO_TRIGGERS as readonly string[]).includes(value);

const bad = (message: string) => new HoistError('bad_request', `Argo CD notification: ${message}`);

/**
 * The Application state a notification reports. A field the body leaves out (or Argo CD reports as
 * `Unknown`) is taken from what its trigger's condition guarantees: on-deployed ⇒ Synced, Healthy,
 * Succeeded; on-health-degraded ⇒ Degraded; on-sync-failed ⇒ phase Failed.
 */
export function toApplicationNotice(body: unknown): ApplicationNotice {
  const parsed = argoNotificationSchema.safeParse(body);
  if (!parsed.success) {
    throw bad(parsed.error.issues.map((issue) => `${issue.path.join('.') || 'body'}: ${issue.message}`).join('; '));
  }
  const notice = parsed.data;

  let trigger: ArgoTrigger | undefined;
  if (notice.trigger !== undefined) {
    if (!isTrigger(notice.trigger)) throw bad(`unknown trigger "${notice.trigger}" (expected ${ARGO_TRIGGERS.join(', ')})`);
    trigger = notice.trigger;
  }

  const embedded = readApplicationState(notice.app ?? body);
  const name = notice.application ?? embedded?.name;
  if (!name) {
    throw bad('no Application name: send "application" (from .app.metadata.name, see gitops-manifests/argocd/notifications-cm.yaml) or the whole Application as "app"');
  }

  const state: ApplicationState = { ...(embedded ?? { sync: 'Unknown', health: 'Unknown' }), name };
  if (notice.revision) state.revision = notice.revision;
  if (notice.sync) state.sync = notice.sync;
  if (notice.health) state.health = notice.health;
  if (notice.phase) state.phase = notice.phase;
  if (notice.message) state.healthMessage = notice.message;

  // The trigger's `when` held when Argo CD rendered the body: it fills what the body did not say.
  if (trigger === 'on-deployed') {
    if (state.sync === 'Unknown') state.sync = 'Synced';
    if (state.health === 'Unknown') state.health = 'Healthy';
    state.phase ??= 'Succeeded';
  } else if (trigger === 'on-health-degraded') {
    if (state.health === 'Unknown') state.health = 'Degraded';
  } else if (trigger === 'on-sync-failed') {
    state.phase ??= 'Failed';
  }
  return trigger ? { trigger, state } : { state };
}
