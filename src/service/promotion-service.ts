import type { GateResult } from '../domain/gates.js';
import type { PromotionState } from '../domain/types.js';

/** Where a request came from: the API (X-Hoist-User) or a chat command. */
export type Channel = 'api' | 'slack' | 'mattermost';

export interface Actor {
  /** The name rbac and approvals use (chat user ids are mapped to it through chatops.users). */
  name: string;
  via: Channel;
}

/** Each gate's status and reason, as the domain judged it. */
export type GateView = GateResult;

export interface PromotionView {
  id: string;
  /** Single-app promotions; a release train lists its apps in `apps`. */
  app: string;
  env: string;
  tag: string;
  apps: Array<{ app: string; tag: string }>;
  state: PromotionState;
  kind: 'pipeline' | 'manual' | 'gated' | 'rollback';
  commit?: string;
  error?: string;
  reason?: string;
  requestedBy?: string;
  image: string;
  /** Worker starts so far (a retry or a crash recovery makes it more than one). */
  attempts: number;
  /** For pipeline promotions: the pipeline that built the tag. */
  source?: { kind: string; url?: string; pipelineId?: number; project?: string };
  gates?: GateView[];
  approvals?: { required: number; given: Array<{ by: string; at: string }>; missing: number };
  /** write: merge-request — the merge request to merge. */
  mergeRequest?: { iid: number; url: string; branch: string };
  /** What the deploy side reported after the commit. */
  health?: 'healthy' | 'degraded';
  /** The automatic rollback this promotion's degradation started. */
  rolledBackBy?: string;
  createdAt: string;
  updatedAt: string;
}

/** A promotion Hoist landed, read from its own signed commit. */
export interface LandedEntry {
  commit: string;
  date: string;
  app: string;
  env: string;
  tag: string;
  promotion: string;
  kind: 'pipeline' | 'manual' | 'gated' | 'rollback';
  /** The pipeline that built the tag (its URL), when known. */
  source: string;
  requestedBy?: string;
  approvedBy: string[];
}

/**
 * A commit Hoist did not sign that changed an environment's overlay: who it says made it and what it changed
 * (an app's image entry, or other files). Shown so nobody is surprised; it never grants anything.
 */
export interface OutsideEntry {
  commit: string;
  date: string;
  kind: 'outside';
  env: string;
  /** The commit's own author line: whatever its maker wrote. */
  author: string;
  subject: string;
  /** The overlay files it changed. */
  paths: string[];
  app?: string;
  image?: string;
  /** The image entry's tag after and before the commit (null: none). */
  tag?: string | null;
  previousTag?: string | null;
  digest?: string;
}

export type HistoryEntry = LandedEntry | OutsideEntry;

export interface EnvironmentStatus {
  commit: string;
  environments: Array<{ name: string; apps: Array<{ app: string; tag: string | null }> }>;
}

/**
 * The use cases behind the API and the chat commands. Every refusal is a HoistError: `forbidden` (403,
 * not allowed by rbac/approvers, self-approval), `not_found` (404), `bad_request` (400: unknown app or
 * environment, a tag that was never in `from`), `conflict` (409: already approved by that person,
 * promotion already finished, nothing to roll back to).
 */
export interface PromotionService {
  requestPromotion(input: { apps: string[]; to: string; tag?: string }, actor: Actor): Promise<PromotionView>;
  approve(id: string, actor: Actor): Promise<PromotionView>;
  cancel(id: string, actor: Actor): Promise<PromotionView>;
  rollback(input: { app: string; env: string; tag?: string }, actor: Actor): Promise<PromotionView>;
  get(id: string): Promise<PromotionView>;
  /** Promotions waiting for gates or approvals (in one environment, or all). */
  listPending(env?: string): Promise<PromotionView[]>;
  status(app?: string): Promise<EnvironmentStatus>;
  history(filter: { app?: string; env?: string }): Promise<HistoryEntry[]>;
}
