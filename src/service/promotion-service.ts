import type { GateResult } from '../domain/gates.js';
import type { PromotionState } from '../domain/types.js';

import type { Person } from '../domain/access.js';
import type { RolloutAction, RolloutView } from '../domain/rollout.js';

/** Where a request came from: the API (a token), the board (a signed-in person), or a chat command. */
export type Channel = 'api' | 'board' | 'slack' | 'mattermost' | 'gitlab';

/** Who acts: the name rbac and approvals use (chat user ids are mapped to it), and their sign-in's groups. */
export interface Actor extends Person {
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
  /** A release train that spans repositories: one commit per repository. */
  commits?: Array<{ repo: string; branch: string; commit: string }>;
  /** Per app, the manifest digest resolved (pin: digest, verifyTag) or carried from the `from` environment. */
  digests?: Record<string, string>;
  /** Its app's Argo Rollouts Rollout as Hoist last read it, while the Rollout runs this version. */
  rollout?: RolloutView;
  /** After it turned healthy, Hoist reads Argo CD until then for a late Degraded (`watch`). */
  watchUntil?: string;
  createdAt: string;
  updatedAt: string;
}

/** A promotion Hoist landed, read from its own signed commit. */
export interface LandedEntry {
  commit: string;
  /** The GitOps repository the commit is in (its name in gitops.repos; `default` for gitops.url). */
  repo?: string;
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
  /** The manifest digest the promotion landed with (its commit's Hoist-Digest trailer). */
  digest?: string;
}

/**
 * A commit Hoist did not sign that changed an environment's overlay: who it says made it and what it changed
 * (an app's image entry, or other files). Shown so nobody is surprised; it never grants anything.
 */
export interface OutsideEntry {
  commit: string;
  repo?: string;
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

export interface PromotionPreview {
  env: string;
  from: string | null;
  policy: 'auto' | 'gated' | 'manual';
  apps: Array<{ app: string; tag: string | null; current: string | null }>;
  /** False when the request would be refused: `refusal` says why, as the request would. */
  allowed: boolean;
  refusal?: { code: string; error: string };
  /** Files the commit would change. */
  files: string[];
  /** `kustomize build` before → after for the changed overlays, Secret values hidden. */
  diff: string;
  note?: string;
}

export interface EnvironmentStatus {
  commit: string;
  environments: Array<{ name: string; apps: Array<{ app: string; tag: string | null; rollout?: RolloutView }> }>;
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
  /** `why`: what made Hoist roll back on someone's behalf (an aborted Rollout), said in the commit. */
  rollback(input: { app: string; env: string; tag?: string; why?: string }, actor: Actor): Promise<PromotionView>;
  get(id: string): Promise<PromotionView>;
  /** Promotions waiting for gates or approvals (in one environment, or all). */
  listPending(env?: string): Promise<PromotionView[]>;
  /** The most recently changed promotions, newest first, filtered by state, app and environment. */
  list(filter: { states?: readonly PromotionState[]; app?: string; env?: string; limit: number }): Promise<PromotionView[]>;
  status(app?: string): Promise<EnvironmentStatus>;
  /** What promoting would do, without doing it: the tags, the refusal the request would get, the rendered diff. */
  preview(input: { apps: string[]; to: string; tag?: string }, actor: Actor): Promise<PromotionPreview>;
  history(filter: { app?: string; env?: string }): Promise<HistoryEntry[]>;
  /**
   * Runs an Argo Rollouts action (resume, promote-full, abort) on the Rollout a promotion put into its environment
   * (`id`, or the one that landed `app` in `env`); an abort then rolls back. Present where Argo CD is configured.
   */
  rollout?(target: RolloutTarget, action: RolloutAction, actor: Actor): Promise<PromotionView>;
}

/** Which Rollout: a promotion's (its `app` for a release train), or the one behind what `app` runs in `env`. */
export type RolloutTarget = { id: string; app?: string | undefined } | { app: string; env: string };
