import type { MergeRequestLink, PromotionSource } from './types.js';

/**
 * One image change the writer must land in one overlay. Edits that share a promotionId are one
 * promotion (a release train): they land together in one commit or not at all.
 */
export interface ImageEdit {
  promotionId: string;
  app: string;
  env: string;
  /** Overlay directory in the GitOps repo. */
  path: string;
  image: string;
  tag: string;
  source: PromotionSource;
  /** Who asked and who approved, for the commit's trailers (not for pipeline promotions). */
  requestedBy?: string | undefined;
  approvedBy?: readonly string[] | undefined;
  /** True when an earlier attempt may already have landed it (look for its trailer first). */
  mayHaveLanded: boolean;
  createdAt: string;
}

export type EditOutcome =
  | { promotionId: string; state: 'committed'; commit: string }
  | { promotionId: string; state: 'awaiting-merge'; mergeRequest: MergeRequestLink }
  | { promotionId: string; state: 'skipped'; reason: string; commit?: string }
  | { promotionId: string; state: 'failed'; error: string };

/** The domain's only view of the GitOps repository. */
export interface RepoWriter {
  /**
   * Lands the edits in as few commits as it can (one, unless some fail on their own).
   * Throws a retryable HoistError when nothing could be decided (remote unreachable and the like).
   */
  apply(edits: readonly ImageEdit[]): Promise<EditOutcome[]>;
}

export interface ImageState {
  name: string;
  newName?: string | undefined;
  tag?: string | undefined;
  digest?: string | undefined;
}

export interface EnvironmentSnapshot {
  commit: string;
  /** Per environment name, the overlay's images (empty when the overlay has none) or an error. */
  environments: Record<string, { images: ImageState[] } | { error: string }>;
}

/** One promotion's trailer group in a commit Hoist made (a release train carries one per app). */
export interface LandedGroup {
  app: string;
  env: string;
  tag: string;
  promotion: string;
  /** The pipeline URL (or the kind, when no pipeline is known). */
  source: string;
  kind: string;
  requestedBy: string;
  approvedBy: string[];
}

export interface ImageChange {
  name: string;
  before?: ImageState | undefined;
  after?: ImageState | undefined;
}

/** What an outside commit changed in one overlay file: images entries, or something else (`other`). */
export interface OverlayChange {
  path: string;
  images: ImageChange[];
  other: boolean;
}

/**
 * A commit that touched an overlay. `trusted` ones are Hoist's own (their signature verifies against Hoist's key) and
 * carry the trailer groups of what they landed; every other one is an outside change: shown, never believed.
 */
export interface HistoryCommit {
  commit: string;
  /** Committer date, ISO 8601. */
  date: string;
  /** `Name <email>` as the commit states it (an outside commit's author is whatever its maker wrote). */
  author: string;
  subject: string;
  trusted: boolean;
  groups: LandedGroup[];
  /** Outside commits only: what they changed in the overlays. */
  changes: OverlayChange[];
}

export interface RepoReader {
  snapshot(paths: Readonly<Record<string, string>>): Promise<EnvironmentSnapshot>;
  /** The commits on the branch that touched these overlay paths, newest first, each judged trusted or outside. */
  history(paths: readonly string[], limit: number): Promise<HistoryCommit[]>;
  /** An overlay's images as of a commit (e.g. the parent of the first promotion, for a rollback). */
  imagesAt(rev: string, overlayPath: string): Promise<ImageState[] | undefined>;
}

/** What the deploy side reports about a version in an environment (deploy webhooks, Argo CD). */
export interface HealthSource {
  status(env: string, app: string, tag: string): Promise<'deployed' | 'degraded' | 'unknown'>;
}
