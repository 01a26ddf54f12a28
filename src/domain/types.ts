/** The domain's vocabulary. Plain data: no I/O, no classes. */
import type { ApprovalPolicy } from './access.js';
import type { Gates } from './gates.js';
import type { AutoPromotePolicy } from './rollout.js';

export type PromotionPolicy = 'auto' | 'gated' | 'manual';

/** Where overlays live: a GitOps repository (by its name in `gitops.repos`; `default` for the single form) and branch. */
export interface Target {
  repo: string;
  branch: string;
}

/** One writer at a time per target: the key its writes serialise on. */
export const targetKey = (t: Target) => `${t.repo}@${t.branch}`;

export interface Environment {
  name: string;
  /** Overlay directory inside the GitOps repo, holding kustomization.yaml. */
  path: string;
  /** The repository and branch its overlay lives in (an app may override it: App.targets). */
  target: Target;
  promotion: PromotionPolicy;
  from?: string | undefined;
  gates?: Gates | undefined;
  approvals?: ApprovalPolicy | undefined;
  pending: 'supersede' | 'queue';
  /** push: to the branch from a clone; merge-request: an MR people merge; api: GitLab's Commits API. */
  write: WriteMode;
  /** Roll back by itself when the deploy side reports the new version Degraded. */
  autoRollback: boolean;
  /** How long Hoist keeps reading Argo CD after the version turned healthy (0 or absent: not at all). */
  watchMs?: number | undefined;
  /** Argo Rollouts: resume each pause that waits for someone once the canary has been healthy that long. */
  rollout?: { autoPromote?: AutoPromotePolicy | undefined } | undefined;
  /** `digest`: the overlay gets the registry's manifest digest beside the tag (default `tag`). */
  pin?: 'tag' | 'digest' | undefined;
  /** Ask the registry before writing, failing a promotion whose tag it does not have (pin: digest implies it). */
  verifyTag?: boolean | undefined;
}

export type WriteMode = 'push' | 'merge-request' | 'api';

export interface App {
  name: string;
  project: string;
  image: string;
  tag: string;
  branches?: readonly string[] | undefined;
  mergeRequestPipelines: boolean;
  /** Per environment, another repository (and branch) than the environment's own (`apps[].repos`). */
  targets?: Readonly<Record<string, Target>> | undefined;
}

/** Where an app's image entry lives in an environment. */
export function targetOf(env: Environment, app: Pick<App, 'targets'>): Target {
  return app.targets?.[env.name] ?? env.target;
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
  | { kind: 'manual' | 'rollback'; by: string; via: string; url?: string | undefined; /** A rollback's cause, for its commit message. */ why?: string | undefined }
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
  /** A release train that spans repositories: the commit it landed in each (one commit per repository). */
  commits?: Array<{ repo: string; branch: string; commit: string }> | undefined;
  /** Per app, the manifest digest its tag resolved to (pin: digest, verifyTag), or carried from the `from` environment. */
  digests?: Record<string, string> | undefined;
}

/** What a promotion moves: its release train's items, or its one app. */
export const itemsOf = (p: Promotion): PromotionItem[] => p.items ?? [{ app: p.app, image: p.image, tag: p.tag }];

export interface MergeRequestLink {
  iid: number;
  url: string;
  branch: string;
}
