import { Gitlab } from '@gitbeaker/rest';
import { HoistError } from '../errors.js';
import type { NoteTarget } from './note-event.js';

/**
 * The slice of GitLab's REST API v4 Hoist uses, on top of `@gitbeaker/rest`. Projects are a
 * `path_with_namespace` (`group/gitops`) or a numeric id.
 *
 * Retries: gitbeaker itself retries 429 and 502 answers (10 attempts, 0.25 ms · 2^n apart, so about a
 * quarter of a second in all; it ignores Retry-After). We add no loop of our own on top: callers get a
 * retryable HoistError and the queue retries the job later, with its own backoff.
 */
export interface GitlabApi {
  setCommitStatus(input: {
    project: string | number;
    sha: string;
    state: CommitState;
    name: string;
    description?: string | undefined;
    targetUrl?: string | undefined;
  }): Promise<void>;
  findOpenMergeRequest(input: { project: string | number; sourceBranch: string; targetBranch: string }): Promise<MergeRequestRef | undefined>;
  createMergeRequest(input: {
    project: string | number;
    sourceBranch: string;
    targetBranch: string;
    title: string;
    description: string;
    removeSourceBranch?: boolean | undefined;
  }): Promise<MergeRequestRef>;
  updateMergeRequest(input: { project: string | number; iid: number; title?: string | undefined; description?: string | undefined; stateEvent?: 'close' | undefined }): Promise<MergeRequestRef>;
  getMergeRequest(input: { project: string | number; iid: number }): Promise<MergeRequestRef>;
  /** The file as of `ref`, decoded to UTF-8; undefined when the file is not there (the project and ref are). */
  getFile(input: { project: string | number; path: string; ref: string }): Promise<{ content: string; lastCommitId: string; blobId: string } | undefined>;
  createCommit(input: {
    project: string | number;
    branch: string;
    message: string;
    actions: ReadonlyArray<{ action: 'update' | 'create'; filePath: string; content: string; lastCommitId?: string | undefined }>;
    authorName?: string | undefined;
    authorEmail?: string | undefined;
  }): Promise<{ id: string }>;
  /** One page of `ref`'s history, newest first, optionally only commits touching `path`. */
  listCommits(input: { project: string | number; ref: string; path?: string | undefined; perPage?: number | undefined }): Promise<Array<{ id: string; message: string; committedDate: string; authorName: string; authorEmail: string }>>;
  /** The project's environment of exactly that name, if there is one. */
  findEnvironment(input: { project: string | number; name: string }): Promise<{ id: number; name: string } | undefined>;
  createEnvironment(input: { project: string | number; name: string; tier?: EnvironmentTier | undefined; externalUrl?: string | undefined }): Promise<{ id: number }>;
  createDeployment(input: { project: string | number; environment: string; sha: string; ref: string; tag: boolean; status: DeploymentStatus }): Promise<{ id: number }>;
  updateDeployment(input: { project: string | number; id: number; status: DeploymentStatus }): Promise<void>;
  /** Who gitlab.token belongs to. */
  currentUser(): Promise<{ id: number; username: string }>;
  /** A merge request's pipelines, newest first (one page). */
  listMergeRequestPipelines(input: { project: string | number; iid: number }): Promise<Array<{ id: number; iid?: number | undefined; sha: string; ref: string; status: string; source?: string | undefined }>>;
  /** A comment on a merge request or a commit; a reply in its thread when the target names one. */
  createNote(input: { target: NoteTarget; body: string }): Promise<{ id: number }>;
}

/** The statuses a deployment can be given through the API (deployments.md, "Create a deployment"). */
export type DeploymentStatus = 'running' | 'success' | 'failed' | 'canceled';
export type EnvironmentTier = 'production' | 'staging' | 'testing' | 'development' | 'other';

export type CommitState = 'pending' | 'running' | 'success' | 'failed' | 'canceled' | 'skipped';

export interface MergeRequestRef {
  iid: number;
  webUrl: string;
  state: 'opened' | 'closed' | 'merged' | 'locked';
  sourceBranch: string;
  targetBranch: string;
  mergeCommitSha?: string | undefined;
  squashCommitSha?: string | undefined;
  sha?: string | undefined;
}

export interface GitlabApiOptions {
  /** GitLab's base URL, e.g. https://gitlab.example.com (no /api/v4). */
  url: string;
  token: string;
  /** Bounds each call, gitbeaker's own 429/502 retries included (one AbortSignal per call). Default 30 s. */
  timeoutMs?: number;
}

/** GitLab takes notes up to 1,000,000 characters (notes.md); Hoist's are short, and a runaway one is cut long before. */
const NOTE_LIMIT = 50_000;

/** GitLab refuses commit-status descriptions and target URLs over 255 characters (docs: "Set commit pipeline status"). */
const STATUS_TEXT_LIMIT = 255;

/** gitbeaker's own default is five minutes, far too long for a worker holding a GitOps lock. */
const DEFAULT_TIMEOUT_MS = 30_000;

/** Counted in code points, as GitLab (Ruby) counts characters. */
function cut(text: string, limit: number): string {
  const chars = [...text];
  return chars.length <= limit ? text : `${chars.slice(0, limit - 1).join('')}…`;
}

interface MergeRequestBody {
  iid: number;
  web_url: string;
  state: MergeRequestRef['state'];
  source_branch: string;
  target_branch: string;
  merge_commit_sha?: string | null;
  squash_commit_sha?: string | null;
  sha?: string | null;
}

function toMergeRequestRef(body: unknown): MergeRequestRef {
  const mr = body as MergeRequestBody;
  return {
    iid: mr.iid,
    webUrl: mr.web_url,
    state: mr.state,
    sourceBranch: mr.source_branch,
    targetBranch: mr.target_branch,
    mergeCommitSha: mr.merge_commit_sha ?? undefined,
    squashCommitSha: mr.squash_commit_sha ?? undefined,
    sha: mr.sha ?? undefined,
  };
}

/** What gitbeaker attaches to a failed request (`GitbeakerRequestError.cause`). */
interface RequestFailure {
  status: number;
  description: string;
}

function requestFailure(error: unknown): RequestFailure | undefined {
  if (!(error instanceof Error)) return undefined;
  const cause = (error as { cause?: unknown }).cause as { response?: { status?: unknown }; description?: unknown } | undefined;
  const status = cause?.response?.status;
  if (typeof status !== 'number') return undefined;
  return { status, description: typeof cause?.description === 'string' ? cause.description : error.message };
}

/** The Commits API's compare-and-swap refusal (`last_commit_id` no longer the file's last commit). */
const FILE_CHANGED = /has changed since you started editing it/i;

/** What a token needs for each write; reads need `read_api` (or `api`) and the Reporter role. */
const PERMISSION_HINTS: Array<[RegExp, string]> = [
  [/commit status/i, 'the `api` scope and at least the Developer role to set commit statuses'],
  [/merge request/i, 'the `api` scope and at least the Developer role to open and edit merge requests'],
  [/commit to/i, 'the `api` scope and at least the Developer role, and the branch must allow Developers to push (protected branches)'],
  [/deployment|environment/i, 'the `api` scope and at least the Developer role to record deployments and create environments'],
  [/comment/i, 'the `api` scope and at least the Reporter role to comment'],
  [/current user/i, 'the `read_user` (or `api`) scope'],
];

function permissionHint(operation: string): string {
  return PERMISSION_HINTS.find(([pattern]) => pattern.test(operation))?.[1] ?? 'the `read_api` (or `api`) scope and at least the Reporter role';
}

/**
 * Turns anything gitbeaker throws into a HoistError that says what to fix. Never echoes the request
 * (its headers carry the token): the cause kept is a plain Error with GitLab's status and message.
 */
export function toGitlabError(operation: string, project: string | number, error: unknown): HoistError {
  if (error instanceof HoistError) return error;
  const failure = requestFailure(error);
  if (!failure) {
    const name = error instanceof Error ? error.name : '';
    if (name === 'GitbeakerRetryError') {
      return new HoistError('unavailable', `GitLab kept refusing to ${operation} in ${project} (429 or 502 after gitbeaker's own retries); will try again later`, { retryable: true, cause: error });
    }
    const reason = name === 'GitbeakerTimeoutError' || name === 'TimeoutError' || name === 'AbortError' ? 'timed out' : 'got no answer';
    const detail = error instanceof Error ? `: ${(error.cause as { code?: string } | undefined)?.code ?? error.message}` : '';
    return new HoistError('unavailable', `GitLab ${reason} trying to ${operation} in ${project}${detail}`, { retryable: true, cause: error });
  }
  const { status, description } = failure;
  const cause = new Error(`GitLab answered ${status}: ${description}`);
  const details = { gitlabStatus: status };
  if (status === 401) {
    return new HoistError('unauthorized', `GitLab rejected gitlab.token (${description || '401 Unauthorized'}): it is expired, revoked or wrong`, { retryable: false, cause, details });
  }
  if (status === 403) {
    return new HoistError('forbidden', `GitLab refused to ${operation} in ${project} (${description || '403 Forbidden'}): the token needs ${permissionHint(operation)}`, { retryable: false, cause, details });
  }
  if (status === 404) {
    // GitLab says `404 Project Not Found` for a project the token cannot see, `404 Not found` for a missing record.
    const message =
      description === '' || /^404 Project Not Found$/i.test(description)
        ? `GitLab project ${project} not found or not visible to the token (trying to ${operation})`
        : `could not ${operation} in ${project}: GitLab answered "${description}"`;
    return new HoistError('not_found', message, { retryable: false, cause, details });
  }
  if ((status === 400 || status === 409) && FILE_CHANGED.test(description)) {
    return new HoistError('conflict', `could not ${operation} in ${project}: a file changed since it was read (${description})`, { retryable: true, cause, details });
  }
  if (status === 429 || status >= 500) {
    return new HoistError('unavailable', `GitLab answered ${status} trying to ${operation} in ${project}${description ? `: ${description}` : ''}`, { retryable: true, cause, details });
  }
  return new HoistError('bad_request', `GitLab refused to ${operation} in ${project} (${status}): ${description}`, { retryable: false, cause, details });
}

export function createGitlabApi(options: GitlabApiOptions): GitlabApi {
  const client = new Gitlab({ host: options.url.replace(/\/+$/, ''), token: options.token, queryTimeout: options.timeoutMs ?? DEFAULT_TIMEOUT_MS });

  const call = async <T>(operation: string, project: string | number, run: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (error) {
      throw toGitlabError(operation, project, error);
    }
  };

  return {
    async setCommitStatus({ project, sha, state, name, description, targetUrl }) {
      await call('set a commit status', project, () =>
        // gitbeaker's type lacks `skipped`, which GitLab documents and accepts.
        client.Commits.editStatus(project, sha, state as Exclude<CommitState, 'skipped'>, {
          name,
          ...(description === undefined ? {} : { description: cut(description, STATUS_TEXT_LIMIT) }),
          // A cut URL would be a broken link: leave it out rather than fail the status.
          ...(targetUrl === undefined || [...targetUrl].length > STATUS_TEXT_LIMIT ? {} : { targetUrl }),
        }),
      );
    },

    async findOpenMergeRequest({ project, sourceBranch, targetBranch }) {
      const found = await call('find merge requests', project, () =>
        client.MergeRequests.all({ projectId: project, sourceBranch, targetBranch, state: 'opened', page: 1, perPage: 20 }),
      );
      const [first] = found as unknown[];
      return first === undefined ? undefined : toMergeRequestRef(first);
    },

    async createMergeRequest({ project, sourceBranch, targetBranch, title, description, removeSourceBranch }) {
      const created = await call('open a merge request', project, () =>
        client.MergeRequests.create(project, sourceBranch, targetBranch, title, {
          description,
          ...(removeSourceBranch === undefined ? {} : { removeSourceBranch }),
        }),
      );
      return toMergeRequestRef(created);
    },

    async updateMergeRequest({ project, iid, title, description, stateEvent }) {
      const updated = await call(`edit merge request !${iid}`, project, () =>
        client.MergeRequests.edit(project, iid, {
          ...(title === undefined ? {} : { title }),
          ...(description === undefined ? {} : { description }),
          ...(stateEvent === undefined ? {} : { stateEvent }),
        }),
      );
      return toMergeRequestRef(updated);
    },

    async getMergeRequest({ project, iid }) {
      return toMergeRequestRef(await call(`read merge request !${iid}`, project, () => client.MergeRequests.show(project, iid)));
    },

    async getFile({ project, path, ref }) {
      try {
        const file = await client.RepositoryFiles.show(project, path, ref);
        const content = file.encoding === 'base64' ? Buffer.from(file.content, 'base64').toString('utf8') : file.content;
        return { content, lastCommitId: file.last_commit_id, blobId: file.blob_id };
      } catch (error) {
        // GitLab answers 404 for a missing project, ref or file alike; only the message tells them apart.
        const failure = requestFailure(error);
        if (failure?.status === 404 && /^404 File Not Found$/i.test(failure.description)) return undefined;
        throw toGitlabError(`read ${path} at ${ref}`, project, error);
      }
    },

    async createCommit({ project, branch, message, actions, authorName, authorEmail }) {
      const commit = await call(`commit to ${branch}`, project, () =>
        client.Commits.create(
          project,
          branch,
          message,
          actions.map((a) => ({ action: a.action, filePath: a.filePath, content: a.content, ...(a.lastCommitId === undefined ? {} : { lastCommitId: a.lastCommitId }) })),
          { ...(authorName === undefined ? {} : { authorName }), ...(authorEmail === undefined ? {} : { authorEmail }) },
        ),
      );
      return { id: commit.id };
    },

    async listCommits({ project, ref, path, perPage }) {
      // `page` set: gitbeaker then returns that page only instead of following every `Link: next`.
      const commits = await call(`list commits of ${ref}`, project, () =>
        client.Commits.all(project, { refName: ref, ...(path === undefined ? {} : { path }), perPage: perPage ?? 20, page: 1 }),
      );
      return (commits as unknown as Array<{ id: string; message: string; committed_date?: string | null; created_at?: string | null; author_name?: string | null; author_email?: string | null }>).map((c) => ({
        id: c.id,
        message: c.message,
        authorName: c.author_name ?? '',
        authorEmail: c.author_email ?? '',
        // The docs' own example omits committed_date on some entries; created_at is documented as identical.
        committedDate: c.committed_date ?? c.created_at ?? '',
      }));
    },

    async findEnvironment({ project, name }) {
      const found = await call(`read the environments`, project, () => client.Environments.all(project, { name, page: 1, perPage: 20 }));
      // `name` is an exact filter; the comparison keeps a loose server from handing over another environment.
      const match = (found as unknown as Array<{ id: number; name: string }>).find((e) => e.name === name);
      return match ? { id: match.id, name: match.name } : undefined;
    },

    async createEnvironment({ project, name, tier, externalUrl }) {
      const created = await call(`create environment ${name}`, project, () =>
        client.Environments.create(project, name, { ...(tier === undefined ? {} : { tier }), ...(externalUrl === undefined ? {} : { externalUrl }) }),
      );
      return { id: (created as unknown as { id: number }).id };
    },

    async createDeployment({ project, environment, sha, ref, tag, status }) {
      const created = await call(`create a deployment to ${environment}`, project, () => client.Deployments.create(project, environment, sha, ref, tag, { status }));
      return { id: (created as unknown as { id: number }).id };
    },

    async updateDeployment({ project, id, status }) {
      await call(`update deployment ${id}`, project, () => client.Deployments.edit(project, id, status));
    },

    async currentUser() {
      const user = (await call('read the current user', 'GitLab', () => client.Users.showCurrentUser())) as unknown as { id: number; username: string };
      return { id: user.id, username: user.username };
    },

    async listMergeRequestPipelines({ project, iid }) {
      const pipelines = await call(`list the pipelines of merge request !${iid}`, project, () => client.MergeRequests.allPipelines(project, iid, { page: 1, perPage: 20 }));
      return (pipelines as unknown as Array<{ id: number; iid?: number | null; sha: string; ref: string; status: string; source?: string | null }>).map((p) => ({
        id: p.id,
        iid: p.iid ?? undefined,
        sha: p.sha,
        ref: p.ref,
        status: p.status,
        source: p.source ?? undefined,
      }));
    },

    async createNote({ target, body }) {
      const text = cut(body, NOTE_LIMIT);
      const where = target.kind === 'merge-request' ? `merge request !${target.iid}` : `commit ${target.sha.slice(0, 12)}`;
      const note = await call<unknown>(`comment on ${where}`, target.project, () => {
        if (target.kind === 'merge-request') {
          return target.discussionId
            ? client.MergeRequestDiscussions.addNote(target.project, target.iid, target.discussionId, text)
            : client.MergeRequestNotes.create(target.project, target.iid, text);
        }
        return target.discussionId ? client.CommitDiscussions.addNote(target.project, target.sha, target.discussionId, text) : client.CommitDiscussions.create(target.project, target.sha, text);
      });
      // A new commit thread answers the discussion; its first note is ours.
      const answer = note as unknown as { id: number | string; notes?: Array<{ id: number }> };
      return { id: typeof answer.id === 'number' ? answer.id : (answer.notes?.[0]?.id ?? 0) };
    },
  };
}
