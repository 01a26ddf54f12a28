/** The domain's vocabulary. Plain data: no I/O, no classes. */

export type PromotionPolicy = 'auto' | 'gated' | 'manual';

export interface Environment {
  name: string;
  /** Overlay directory inside the GitOps repo, holding kustomization.yaml. */
  path: string;
  promotion: PromotionPolicy;
  from?: string | undefined;
}

export interface App {
  name: string;
  project: string;
  image: string;
  tag: string;
  branches?: readonly string[] | undefined;
  mergeRequestPipelines: boolean;
}

export type PromotionState = 'queued' | 'running' | 'committed' | 'skipped' | 'failed';
export const TERMINAL_STATES: ReadonlySet<PromotionState> = new Set(['committed', 'skipped', 'failed']);

export interface PromotionSource {
  kind: 'pipeline';
  project: string;
  pipelineId: number;
  url: string;
  ref: string;
  sha: string;
}

/** What a request asks for, before it is stored. */
export interface PromotionRequest {
  app: string;
  env: string;
  image: string;
  path: string;
  tag: string;
  source: PromotionSource;
}

export interface Promotion extends PromotionRequest {
  id: string;
  state: PromotionState;
  createdAt: string;
  updatedAt: string;
  /** Number of times a worker has started on it; > 1 means a retry or a crash recovery. */
  attempts: number;
  commit?: string | undefined;
  /** Why it was skipped or failed, in words for the user. */
  reason?: string | undefined;
  error?: string | undefined;
}
