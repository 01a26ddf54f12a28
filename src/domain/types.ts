/** The domain's vocabulary. Plain data: no I/O, no classes. */
import type { ApprovalPolicy } from './access.js';
import type { Gates } from './gates.js';

export type PromotionPolicy = 'auto' | 'gated' | 'manual';

export interface Environment {
  name: string;
  /** Overlay directory inside the GitOps repo, holding kustomization.yaml. */
  path: string;
  promotion: PromotionPolicy;
  from?: string | undefined;
  gates?: Gates | undefined;
  approvals?: ApprovalPolicy | undefined;
  pending: 'supersede' | 'queue';
  /** push: to the branch from a clone; merge-request: an MR people merge; api: GitLab's Commits API. */
  write: WriteMode;
  /** Roll back by itself when the deploy side reports the new version Degraded. */
  autoRollback: boolean;
}

export type WriteMode = 'push' | 'merge-request' | 'api';

export interface App {
  name: string;
  project: string;
  image: string;
  tag: string;
  branches?: readonly string[] | undefined;
  mergeRequestPipelines: boolean;
}

export type PromotionState =
  | 'waiting'
  | 'awaiting-approval'
  | 'queued'
  | 'running'
  /** Pushed to a branch with a merge request open; committed once GitLab reports it merged. */
  | 'awaiting-merge'
  | 'committed'
  /** Committed, then the deploy side reported the version Degraded (or its sync failed). */
  | 'degraded'
  | 'skipped'
  | 'failed'
  | 'cancelled'
  | 'superseded';
export const TERMINAL_STATES: ReadonlySet<PromotionState> = new Set(['committed', 'degraded', 'skipped', 'failed', 'cancelled', 'superseded']);
/** Not yet handed to the writer: a newer version may supersede these. */
export const PENDING_STATES: ReadonlySet<PromotionState> = new Set(['waiting', 'awaiting-approval']);

export type PromotionKind = 'pipeline' | 'manual' | 'gated' | 'rollback';

export type PromotionSource =
  | { kind: 'pipeline'; project: string; pipelineId: number; url: string; ref: string; sha: string }
  /** `url`: the pipeline that built the tag, when the history knows it. */
  | { kind: 'manual' | 'rollback'; by: string; via: string; url?: string | undefined }
  | { kind: 'gated'; url?: string | undefined };

export interface PromotionItem {
  app: string;
  image: string;
  tag: string;
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
  /** Every app of a release train (the first is also in app/image/tag); absent for single-app promotions. */
  items?: PromotionItem[] | undefined;
  approvals?: Array<{ by: string; at: string }> | undefined;
  gates?: Array<{ gate: string; status: 'passed' | 'waiting'; reason: string }> | undefined;
  state: PromotionState;
  createdAt: string;
  updatedAt: string;
  /** Number of times a worker has started on it; > 1 means a retry or a crash recovery. */
  attempts: number;
  commit?: string | undefined;
  /** Why it was skipped or failed, in words for the user. */
  reason?: string | undefined;
  error?: string | undefined;
  /** write: merge-request — the merge request that carries it. */
  mergeRequest?: MergeRequestLink | undefined;
  /** What the deploy side said after the commit (Argo CD, deploy reports). */
  health?: 'healthy' | 'degraded' | undefined;
  /** The automatic rollback started because this promotion degraded. */
  rolledBackBy?: string | undefined;
}

export interface MergeRequestLink {
  iid: number;
  url: string;
  branch: string;
}
