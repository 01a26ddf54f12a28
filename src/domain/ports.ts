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

export interface CommitRecord {
  commit: string;
  /** Committer date, ISO 8601. */
  date: string;
  message: string;
}

export interface RepoReader {
  snapshot(paths: Readonly<Record<string, string>>): Promise<EnvironmentSnapshot>;
  /** Hoist's commits on the branch (those with Hoist trailers), newest first. */
  history(limit: number): Promise<CommitRecord[]>;
  /** An overlay's images as of a commit (e.g. the parent of the first promotion, for a rollback). */
  imagesAt(rev: string, overlayPath: string): Promise<ImageState[] | undefined>;
}

/** What the deploy side reports about a version in an environment (deploy webhooks, Argo CD). */
export interface HealthSource {
  status(env: string, app: string, tag: string): Promise<'deployed' | 'degraded' | 'unknown'>;
}
