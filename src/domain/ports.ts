import type { MergeRequestLink, PromotionSource, Target } from './types.js';

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
  /** The repository and branch the overlay lives in. */
  target: Target;
  image: string;
  tag: string;
  source: PromotionSource;
  /** Who asked and who approved, for the commit's trailers (not for pipeline promotions). */
  requestedBy?: string | undefined;
  approvedBy?: readonly string[] | undefined;
  /** True when an earlier attempt may already have landed it (look for its trailer first). */
  mayHaveLanded: boolean;
  /** The manifest digest the promotion resolved or carried for this app: its commit's `Hoist-Digest` trailer. */
  digest?: string | undefined;
  /** Write the digest into the overlay beside the tag (`pin: digest`); otherwise only the tag is written. */
  pinDigest?: boolean | undefined;
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
  /** The head commit read (of the first repository, when environments live in several). */
  commit: string;
  /** Per repository and branch (`repo@branch`), the head commit read. */
  heads?: Record<string, string> | undefined;
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
  /** `Hoist-Digest`: the manifest digest the promotion resolved or carried (absent when it had none). */
  digest?: string | undefined;
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
  /** The repository (its name in gitops.repos, `default` for the single form) the commit is in. */
  repo?: string | undefined;
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

/** `maxAgeMs`: a read may use the branch head as fetched that long ago (several reads of one page share a fetch). */
export interface ReadOptions {
  maxAgeMs?: number | undefined;
}

/**
 * The GitOps repositories as the domain sees them: environments and apps, not paths and repos. Each environment's
 * overlay (and an app's, where it lives elsewhere) is read at the head of its repository and branch.
 */
export interface RepoReader {
  /** Per environment, the images its overlay(s) set (an app's entry taken from where that app lives), or an error. */
  snapshot(envs: readonly string[], options?: ReadOptions): Promise<EnvironmentSnapshot>;
  /** The commits that touched these environments' overlays, newest first, each judged trusted or outside. */
  history(envs: readonly string[], limit: number, options?: ReadOptions): Promise<HistoryCommit[]>;
  /** An app's image entry in an environment as of a commit (the parent of Hoist's first, for a rollback). */
  imagesAt(rev: string, env: string, app?: string): Promise<ImageState[] | undefined>;
}

/** What a set of image edits would change, rendered, without writing anything (the board's dialog, `hoist diff`). */
export interface Previewer {
  preview(edits: readonly ImageEdit[]): Promise<{ outcome: 'changes' | 'no-change' | 'refused'; reason?: string | undefined; files: string[]; diff: string }>;
}

/** What the deploy side reports about a version in an environment (deploy webhooks, Argo CD). */
export interface HealthSource {
  status(env: string, app: string, tag: string): Promise<'deployed' | 'degraded' | 'unknown'>;
}
