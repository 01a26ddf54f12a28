import type { ApplicationState } from './client.js';

export type DeployVerdict = 'deployed' | 'degraded' | 'failed' | 'progressing';

/**
 * What an Application's state says about the version it runs. The meanings follow Argo CD's notification
 * catalog (argo-cd `notifications_catalog/triggers/*.yaml`):
 * - `on-sync-failed` fires on operationState.phase in ['Error', 'Failed']: the sync could not apply → failed.
 *   It wins over Degraded, since a half-applied sync is the cause to report.
 * - `on-health-degraded` fires on health.status == 'Degraded' (gitops-engine `pkg/health`: failed, or
 *   could not reach healthy within its deadline) → degraded.
 * - `on-deployed` needs operationState.phase 'Succeeded' and health 'Healthy'; we also want sync 'Synced'
 *   (live equals Git at status.sync.revision). An Application no sync operation has touched yet (its
 *   resources matched Git from the start) has no operationState; Synced and Healthy is then all there is.
 * Everything else (OutOfSync, Progressing, Suspended, Missing, Unknown, a Running or Terminating sync)
 * is not decided yet.
 */
export function judgeApplication(state: ApplicationState): DeployVerdict {
  if (state.phase === 'Failed' || state.phase === 'Error') return 'failed';
  if (state.health === 'Degraded') return 'degraded';
  if (state.sync === 'Synced' && state.health === 'Healthy' && (state.phase === undefined || state.phase === 'Succeeded')) return 'deployed';
  return 'progressing';
}
