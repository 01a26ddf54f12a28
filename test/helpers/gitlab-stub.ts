import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, STATUS_CODES, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { posix } from 'node:path';

/**
 * A local stand-in for GitLab's REST API v4, enough for src/gitlab/api.ts: commit statuses, merge
 * requests (and their pipelines), repository files and commits, environments and deployments, notes and
 * discussions on merge requests and commits, and `GET /user`. Answers carry the shapes of GitLab's documented example
 * responses (test/fixtures/gitlab/*.json, loaded and overridden field by field) and GitLab's own error
 * bodies (`{"message": "404 File Not Found"}`, the Commits API's compare-and-swap refusal, …).
 *
 * Projects must be known: `addProject` (or `setFile`, which adds the project) first; any other project
 * answers `404 Project Not Found`, as GitLab does for one the token cannot see. Paths may name a project
 * by its URL-encoded path (`group%2Fgitops`) or its numeric id.
 */
export interface GitlabStub {
  /** Base URL without `/api/v4`, e.g. `http://127.0.0.1:40123`: give it to createGitlabApi as `url`. */
  url: string;
  /** Every request, in arrival order (forced failures and delayed ones included). */
  requests: StubRequest[];
  /** Registers a project and returns its numeric id (idempotent; `id` picks the id of a new one). */
  addProject(path: string, id?: number): number;
  /** Seeds (or overwrites) a file on a branch, as a commit of its own; returns that commit's id (the file's last commit). */
  setFile(project: string, path: string, content: string, options?: { branch?: string; message?: string }): string;
  /** The file as the stub holds it now, or undefined. */
  file(project: string, path: string, branch?: string): StubFile | undefined;
  /** Commits of a branch (all branches when omitted), newest first: seeded ones and those made through the API. */
  commits(project: string, branch?: string): StubCommit[];
  /** Commit statuses posted for a project (optionally one SHA), oldest first. */
  statuses(project: string, sha?: string): StubCommitStatus[];
  /** Merge requests of a project, by iid. */
  mergeRequests(project: string): StubMergeRequest[];
  /** Simulates a person merging a merge request in GitLab's UI. */
  mergeMergeRequest(project: string, iid: number, mergeCommitSha?: string): void;
  /** Simulates a person closing a merge request. */
  closeMergeRequest(project: string, iid: number): void;
  /** Simulates a person opening a merge request (no branch needed); returns its iid. */
  addMergeRequest(project: string, input: { sourceBranch: string; targetBranch?: string; title?: string }): number;
  /** What `GET …/merge_requests/:iid/pipelines` answers, newest first. */
  setMergeRequestPipelines(project: string, iid: number, pipelines: ReadonlyArray<{ id: number; iid?: number; sha: string; ref: string; status: string; source?: string }>): void;
  /** Environments of a project, oldest first. */
  environments(project: string): StubEnvironment[];
  /** Deployments of a project, oldest first, each with every status it was given. */
  deployments(project: string): StubDeployment[];
  /** Notes on a project's merge requests and commits, oldest first (people's and the API's). */
  notes(project: string): StubNote[];
  /** Simulates a person commenting (a new thread, as GitLab's UI does); the ids go into the Note Hook payload. */
  comment(project: string, on: StubNoteable, body: string, author: { id: number; username: string }): { noteId: number; discussionId: string };
  /**
   * The next `times` requests whose method matches and whose decoded path (e.g.
   * `/api/v4/projects/group/gitops/repository/commits`) matches `pathRegex` get `status` and `body`
   * (an object is sent as JSON, a string as text/plain; default `{"message": "<status> <reason>"}`).
   */
  failNext(method: string, pathRegex: RegExp, status: number, body?: unknown, times?: number): void;
  /** The next `times` matching requests are answered (normally) only after `ms` milliseconds: for client timeouts. */
  delayNext(method: string, pathRegex: RegExp, ms: number, times?: number): void;
  /** Runs `action` just before the next `times` matching requests are handled, e.g. to move a file between a read and a write. */
  beforeNext(method: string, pathRegex: RegExp, action: () => void, times?: number): void;
  close(): Promise<void>;
}

export interface StubRequest {
  method: string;
  /** Decoded pathname: `/api/v4/projects/group/gitops/repository/files/overlays/dev/kustomization.yaml`. */
  path: string;
  /** The pathname as sent: `/api/v4/projects/group%2Fgitops/repository/files/overlays%2Fdev%2Fkustomization.yaml`. */
  rawPath: string;
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  /** Parsed JSON or form body; the raw text for anything else; undefined when empty. */
  body: unknown;
}

export interface StubFile {
  content: string;
  lastCommitId: string;
}

export interface StubCommit {
  id: string;
  branch: string;
  message: string;
  authorName: string;
  authorEmail: string;
  /** Paths the commit touched. */
  paths: string[];
  committedDate: string;
  parentId: string | undefined;
}

export interface StubCommitStatus {
  sha: string;
  state: string;
  name: string;
  description: string | null;
  targetUrl: string | null;
  ref: string | null;
  createdAt: string;
}

export interface StubMergeRequest {
  id: number;
  iid: number;
  title: string;
  description: string;
  state: 'opened' | 'closed' | 'merged' | 'locked';
  sourceBranch: string;
  targetBranch: string;
  removeSourceBranch: boolean | null;
  sha: string;
  mergeCommitSha: string | null;
  createdAt: string;
  updatedAt: string;
  mergedAt: string | null;
  closedAt: string | null;
}

export interface GitlabStubOptions {
  /** When set, requests whose PRIVATE-TOKEN differs answer `401 Unauthorized`. */
  token?: string;
  /** Who the token belongs to (`GET /user`, and the author of notes made through the API). */
  user?: { id: number; username: string };
}

export interface StubEnvironment {
  id: number;
  name: string;
  tier: string | null;
  externalUrl: string | null;
}

export interface StubDeployment {
  id: number;
  iid: number;
  environment: string;
  sha: string;
  ref: string;
  tag: boolean;
  status: string;
  /** Every status it had, in order (the first is the one it was created with). */
  history: string[];
}

export type StubNoteable = { kind: 'merge-request'; iid: number } | { kind: 'commit'; sha: string };

export interface StubNote {
  id: number;
  body: string;
  on: StubNoteable;
  discussionId: string;
  author: string;
}

type Json = Record<string, unknown>;

const FIXTURES = new URL('../fixtures/gitlab/', import.meta.url);
const fixture = <T>(name: string): T => JSON.parse(readFileSync(new URL(name, FIXTURES), 'utf8')) as T;
const STATUS_FIXTURE = fixture<Json>('commit-status-response.json');
const MR_FIXTURE = fixture<Json>('merge-request-response.json');
const MR_LIST_ITEM_FIXTURE = fixture<Json[]>('merge-requests-list-response.json')[0] as Json;
const FILE_FIXTURE = fixture<Json>('repository-file-response.json');
const COMMIT_FIXTURE = fixture<Json>('commit-create-response.json');
const COMMIT_LIST_ITEM_FIXTURE = fixture<Json[]>('commits-list-response.json')[0] as Json;
const DEPLOYMENT_FIXTURE = fixture<Json>('deployment-create-response.json');
const ENVIRONMENT_LIST_ITEM_FIXTURE = fixture<Json[]>('environments-list-response.json')[0] as Json;
const ENVIRONMENT_FIXTURE = fixture<Json>('environment-create-response.json');
const MR_NOTE_FIXTURE = fixture<Json>('merge-request-note-response.json');
const MR_DISCUSSION_NOTE_FIXTURE = (fixture<Array<{ notes: Json[] }>>('merge-request-discussions-list-response.json')[0] as { notes: Json[] }).notes[1] as Json;
const COMMIT_DISCUSSION_FIXTURE = fixture<Json[]>('commit-discussions-list-response.json')[0] as Json & { notes: Json[] };
const MR_PIPELINE_FIXTURE = fixture<Json[]>('merge-request-pipelines-response.json')[0] as Json;
const USER_FIXTURE = fixture<Json>('current-user-response.json');
const DEPLOYMENT_STATES = new Set(['running', 'success', 'failed', 'canceled']);

const COMMIT_STATES = new Set(['pending', 'running', 'success', 'failed', 'canceled', 'skipped']);

interface Project {
  id: number;
  path: string;
  branches: Map<string, Map<string, StubFile>>;
  commits: StubCommit[];
  statuses: StubCommitStatus[];
  mergeRequests: StubMergeRequest[];
  environments: StubEnvironment[];
  deployments: StubDeployment[];
  notes: StubNote[];
  mergeRequestPipelines: Map<number, Json[]>;
}

interface Rule {
  method: string;
  pathRegex: RegExp;
  remaining: number;
}

class Answer {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Record<string, string> = {},
  ) {}
}

const newSha = () => createHash('sha1').update(randomBytes(16)).digest('hex');
const now = () => new Date().toISOString();
const gitBlobId = (bytes: Buffer) => createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
const defaultBody = (status: number) => ({ message: `${status} ${STATUS_CODES[status] ?? 'Error'}` });

function parseBody(raw: string, contentType: string | undefined): unknown {
  if (raw === '') return undefined;
  if (contentType?.includes('application/json')) {
    try {
      return JSON.parse(raw) as unknown;
    } catch {
      return raw;
    }
  }
  if (contentType?.includes('application/x-www-form-urlencoded')) return Object.fromEntries(new URLSearchParams(raw));
  return raw;
}

function page<T>(items: T[], query: Record<string, string>, base: URL): { items: T[]; headers: Record<string, string> } {
  const perPage = Math.max(1, Math.min(100, Number(query.per_page ?? 20) || 20));
  const current = Math.max(1, Number(query.page ?? 1) || 1);
  const slice = items.slice((current - 1) * perPage, current * perPage);
  const headers: Record<string, string> = { 'x-page': String(current), 'x-per-page': String(perPage) };
  if (current * perPage < items.length) {
    const next = new URL(base);
    next.searchParams.set('page', String(current + 1));
    next.searchParams.set('per_page', String(perPage));
    headers['x-next-page'] = String(current + 1);
    headers.link = `<${next.href}>; rel="next"`;
  }
  return { items: slice, headers };
}

export async function startGitlabStub(options: GitlabStubOptions = {}): Promise<GitlabStub> {
  const requests: StubRequest[] = [];
  const projects: Project[] = [];
  const failures: Array<Rule & { status: number; body: unknown }> = [];
  const delays: Array<Rule & { ms: number }> = [];
  const hooks: Array<Rule & { action: () => void }> = [];
  /** Delayed answers still waiting, so close() can let them go at once. */
  const waiting = new Map<NodeJS.Timeout, () => void>();
  let nextProjectId = 1;
  let nextMrId = 1;
  let nextStatusId = 1;
  let nextEnvironmentId = 1;
  let nextDeploymentId = 1;
  let nextNoteId = 5000;
  let url = '';
  const user = options.user ?? { id: 99, username: 'hoist-bot' };

  const newDiscussionId = () => createHash('sha1').update(randomBytes(16)).digest('hex');
  const noteJson = (project: Project, note: StubNote, template: Json): Json => ({
    ...template,
    id: note.id,
    body: note.body,
    author: { ...(template.author as Json), id: note.author === user.username ? user.id : (template.author as Json).id, username: note.author, name: note.author },
    created_at: now(),
    updated_at: now(),
    system: false,
    noteable_type: note.on.kind === 'merge-request' ? 'MergeRequest' : 'Commit',
    noteable_iid: note.on.kind === 'merge-request' ? note.on.iid : null,
    project_id: project.id,
  });
  const addNote = (project: Project, on: StubNoteable, body: string, author: string, discussionId = newDiscussionId()): StubNote => {
    const note: StubNote = { id: nextNoteId++, body, on, discussionId, author };
    project.notes.push(note);
    return note;
  };
  const sameNoteable = (a: StubNoteable, b: StubNoteable) => (a.kind === 'merge-request' ? b.kind === 'merge-request' && a.iid === b.iid : b.kind === 'commit' && a.sha === b.sha);
  /** The thread a reply goes to must exist on that merge request or commit, as in GitLab. */
  const reply = (project: Project, on: StubNoteable, discussionId: string, input: Json, template: Json): Answer => {
    if (typeof input.body !== 'string' || input.body === '') return new Answer(400, { error: 'body is missing' });
    if (!project.notes.some((n) => n.discussionId === discussionId && sameNoteable(n.on, on))) return new Answer(404, { message: '404 Discussion Not Found' });
    return new Answer(201, noteJson(project, addNote(project, on, input.body, user.username, discussionId), template));
  };
  const deploymentJson = (deployment: StubDeployment, environment: StubEnvironment | undefined): Json => ({
    ...DEPLOYMENT_FIXTURE,
    id: deployment.id,
    iid: deployment.iid,
    ref: deployment.ref,
    sha: deployment.sha,
    status: deployment.status,
    created_at: now(),
    user: { ...(DEPLOYMENT_FIXTURE.user as Json), id: user.id, username: user.username, name: user.username },
    environment: { id: environment?.id ?? 0, name: deployment.environment, external_url: environment?.externalUrl ?? null },
    deployable: null,
  });

  const findProject = (key: string): Project | undefined =>
    /^\d+$/.test(key) ? projects.find((p) => p.id === Number(key)) : projects.find((p) => p.path.toLowerCase() === key.toLowerCase());

  const requireProject = (key: string): Project => {
    const project = findProject(key);
    if (!project) throw new Error(`gitlab stub: unknown project ${key} (addProject it first)`);
    return project;
  };

  const addProject = (path: string, id?: number): number => {
    const existing = findProject(path);
    if (existing) return existing.id;
    const project: Project = {
      id: id ?? nextProjectId,
      path,
      branches: new Map(),
      commits: [],
      statuses: [],
      mergeRequests: [],
      environments: [],
      deployments: [],
      notes: [],
      mergeRequestPipelines: new Map(),
    };
    nextProjectId = Math.max(nextProjectId, project.id) + 1;
    projects.push(project);
    return project.id;
  };

  const branchFiles = (project: Project, branch: string): Map<string, StubFile> => {
    let files = project.branches.get(branch);
    if (!files) {
      files = new Map();
      project.branches.set(branch, files);
    }
    return files;
  };

  const head = (project: Project, branch: string) => project.commits.find((c) => c.branch === branch)?.id;

  const take = <R extends Rule>(rules: R[], method: string, path: string): R | undefined => {
    const rule = rules.find((r) => r.remaining > 0 && r.method.toUpperCase() === method && r.pathRegex.test(path));
    if (rule) rule.remaining -= 1;
    return rule;
  };

  const mergeRequestJson = (project: Project, mr: StubMergeRequest, template: Json): Json => {
    const merged = mr.state === 'merged';
    return {
      ...template,
      id: mr.id,
      iid: mr.iid,
      project_id: project.id,
      title: mr.title,
      description: mr.description,
      state: mr.state,
      created_at: mr.createdAt,
      updated_at: mr.updatedAt,
      target_branch: mr.targetBranch,
      source_branch: mr.sourceBranch,
      source_project_id: project.id,
      target_project_id: project.id,
      assignee: null,
      ...('assignees' in template ? { assignees: [], reviewers: [] } : {}),
      labels: [],
      milestone: null,
      merge_when_pipeline_succeeds: false,
      detailed_merge_status: mr.state === 'opened' ? 'mergeable' : 'not_open',
      sha: mr.sha,
      merge_commit_sha: mr.mergeCommitSha,
      squash_commit_sha: null,
      should_remove_source_branch: mr.removeSourceBranch,
      force_remove_source_branch: mr.removeSourceBranch ?? false,
      web_url: `${url}/${project.path}/-/merge_requests/${mr.iid}`,
      references: { short: `!${mr.iid}`, relative: `!${mr.iid}`, full: `${project.path}!${mr.iid}` },
      ...('reference' in template ? { reference: `!${mr.iid}` } : {}),
      merged_by: merged ? template.merged_by : null,
      merge_user: merged ? template.merge_user : null,
      merged_at: mr.mergedAt,
      closed_at: mr.closedAt,
      ...('pipeline' in template ? { pipeline: null, diff_refs: null, latest_build_started_at: null, latest_build_finished_at: null } : {}),
    };
  };

  const commitJson = (project: Project, commit: StubCommit, template: Json): Json => ({
    ...template,
    id: commit.id,
    short_id: commit.id.slice(0, 11),
    title: commit.message.split('\n')[0],
    author_name: commit.authorName,
    author_email: commit.authorEmail,
    committer_name: commit.authorName,
    committer_email: commit.authorEmail,
    created_at: commit.committedDate,
    authored_date: commit.committedDate,
    committed_date: commit.committedDate,
    message: commit.message,
    parent_ids: commit.parentId ? [commit.parentId] : [],
    web_url: `${url}/${project.path}/-/commit/${commit.id}`,
    ...('trailers' in template ? { trailers: {}, extended_trailers: {} } : {}),
  });

  const recordCommit = (project: Project, branch: string, message: string, paths: string[], author?: { name?: string; email?: string }): StubCommit => {
    const commit: StubCommit = {
      id: newSha(),
      branch,
      message,
      authorName: author?.name ?? 'Administrator',
      authorEmail: author?.email ?? 'admin@example.com',
      paths,
      committedDate: now(),
      parentId: head(project, branch),
    };
    project.commits.unshift(commit);
    return commit;
  };

  const setFile = (projectPath: string, path: string, content: string, opts: { branch?: string; message?: string } = {}): string => {
    const project = requireProject(String(addProject(projectPath)));
    const branch = opts.branch ?? 'main';
    const commit = recordCommit(project, branch, opts.message ?? `seed ${path}`, [path]);
    branchFiles(project, branch).set(path, { content, lastCommitId: commit.id });
    return commit.id;
  };

  const touches = (commit: StubCommit, path: string) => {
    const prefix = path.replace(/\/+$/, '');
    return commit.paths.some((p) => p === prefix || p.startsWith(`${prefix}/`));
  };

  const route = (method: string, project: Project, rest: string[], query: Record<string, string>, body: unknown, base: URL): Answer => {
    const input = (typeof body === 'object' && body !== null ? body : {}) as Json;
    const [section, ...tail] = rest;

    // POST /projects/:id/statuses/:sha — commits.md, "Set commit pipeline status".
    if (section === 'statuses' && tail.length === 1 && method === 'POST') {
      const state = String(input.state ?? query.state ?? '');
      if (!state) return new Answer(400, { error: 'state is missing' });
      if (!COMMIT_STATES.has(state)) return new Answer(400, { error: 'state does not have a valid value' });
      const status: StubCommitStatus = {
        sha: tail[0] as string,
        state,
        name: String(input.name ?? input.context ?? 'default'),
        description: typeof input.description === 'string' ? input.description : null,
        targetUrl: typeof input.target_url === 'string' ? input.target_url : null,
        ref: typeof input.ref === 'string' ? input.ref : null,
        createdAt: now(),
      };
      project.statuses.push(status);
      const finished = ['success', 'failed', 'canceled', 'skipped'].includes(state);
      return new Answer(201, {
        ...STATUS_FIXTURE,
        id: nextStatusId++,
        sha: status.sha,
        status: state,
        name: status.name,
        description: status.description,
        target_url: status.targetUrl,
        ref: status.ref,
        coverage: null,
        created_at: status.createdAt,
        started_at: null,
        finished_at: finished ? status.createdAt : null,
      });
    }

    if (section === 'merge_requests' && tail.length >= 2) {
      const mr = project.mergeRequests.find((m) => m.iid === Number(tail[0]));
      if (!mr) return new Answer(404, { message: '404 Not found' });
      const on: StubNoteable = { kind: 'merge-request', iid: mr.iid };
      // POST /projects/:id/merge_requests/:iid/notes — notes.md, "Create new merge request note".
      if (tail[1] === 'notes' && tail.length === 2 && method === 'POST') {
        if (typeof input.body !== 'string' || input.body === '') return new Answer(400, { error: 'body is missing' });
        return new Answer(201, noteJson(project, addNote(project, on, input.body, user.username), MR_NOTE_FIXTURE));
      }
      // POST /projects/:id/merge_requests/:iid/discussions/:discussion_id/notes — discussions.md, "Add note to existing merge request thread".
      if (tail[1] === 'discussions' && tail[3] === 'notes' && tail.length === 4 && method === 'POST') return reply(project, on, tail[2] as string, input, MR_DISCUSSION_NOTE_FIXTURE);
      // GET /projects/:id/merge_requests/:iid/pipelines — merge_requests.md, "List MR pipelines".
      if (tail[1] === 'pipelines' && tail.length === 2 && method === 'GET') {
        const { items, headers } = page(project.mergeRequestPipelines.get(mr.iid) ?? [], query, base);
        return new Answer(200, items, headers);
      }
    }

    // GET /projects/:id/environments?name= and POST /projects/:id/environments — environments.md.
    if (section === 'environments' && tail.length === 0) {
      if (method === 'GET') {
        const found = project.environments.filter((e) => query.name === undefined || e.name === query.name);
        const { items, headers } = page(found, query, base);
        return new Answer(
          200,
          items.map((e) => ({ ...ENVIRONMENT_LIST_ITEM_FIXTURE, id: e.id, name: e.name, slug: e.name.replace(/[^a-z0-9]+/gi, '-').toLowerCase(), external_url: e.externalUrl, tier: e.tier })),
          headers,
        );
      }
      if (method === 'POST') {
        if (typeof input.name !== 'string' || input.name === '') return new Answer(400, { error: 'name is missing' });
        if (project.environments.some((e) => e.name === input.name)) return new Answer(400, { message: { name: ['has already been taken'] } });
        if (input.tier !== undefined && !['production', 'staging', 'testing', 'development', 'other'].includes(String(input.tier))) return new Answer(400, { error: 'tier does not have a valid value' });
        const environment: StubEnvironment = { id: nextEnvironmentId++, name: input.name, tier: typeof input.tier === 'string' ? input.tier : null, externalUrl: typeof input.external_url === 'string' ? input.external_url : null };
        project.environments.push(environment);
        return new Answer(201, { ...ENVIRONMENT_FIXTURE, id: environment.id, name: environment.name, slug: environment.name, external_url: environment.externalUrl, tier: environment.tier ?? 'other' });
      }
    }

    if (section === 'deployments') {
      // POST /projects/:id/deployments — deployments.md, "Create a deployment".
      if (tail.length === 0 && method === 'POST') {
        for (const field of ['environment', 'sha', 'ref']) if (typeof input[field] !== 'string' || input[field] === '') return new Answer(400, { error: `${field} is missing` });
        if (typeof input.tag !== 'boolean') return new Answer(400, { error: 'tag is missing' });
        if (!DEPLOYMENT_STATES.has(String(input.status))) return new Answer(400, { error: 'status does not have a valid value' });
        // GitLab finds or creates the environment by name (the tier then is GitLab's own guess).
        let environment = project.environments.find((e) => e.name === input.environment);
        if (!environment) {
          environment = { id: nextEnvironmentId++, name: String(input.environment), tier: null, externalUrl: null };
          project.environments.push(environment);
        }
        const deployment: StubDeployment = {
          id: nextDeploymentId++,
          iid: project.deployments.length + 1,
          environment: environment.name,
          sha: String(input.sha),
          ref: String(input.ref),
          tag: input.tag,
          status: String(input.status),
          history: [String(input.status)],
        };
        project.deployments.push(deployment);
        return new Answer(201, deploymentJson(deployment, environment));
      }
      // PUT /projects/:id/deployments/:deployment_id — "Update a deployment".
      if (tail.length === 1 && method === 'PUT') {
        const deployment = project.deployments.find((d) => d.id === Number(tail[0]));
        if (!deployment) return new Answer(404, { message: '404 Not found' });
        const status = String(input.status ?? '');
        if (!DEPLOYMENT_STATES.has(status)) return new Answer(400, { error: 'status does not have a valid value' });
        // GitLab's state machine: `run` only from created; the others from any other state.
        if (status === deployment.status || status === 'running') return new Answer(400, { message: { status: [`cannot transition via "${status}"`] } });
        deployment.status = status;
        deployment.history.push(status);
        return new Answer(200, deploymentJson(deployment, project.environments.find((e) => e.name === deployment.environment)));
      }
    }

    // Commit threads — discussions.md, "Create new commit thread" and "Add note to existing commit thread".
    if (section === 'repository' && tail[0] === 'commits' && tail[2] === 'discussions' && method === 'POST') {
      const on: StubNoteable = { kind: 'commit', sha: tail[1] as string };
      if (tail.length === 5 && tail[4] === 'notes') return reply(project, on, tail[3] as string, input, (COMMIT_DISCUSSION_FIXTURE.notes[1] ?? {}) as Json);
      if (tail.length === 3) {
        if (typeof input.body !== 'string' || input.body === '') return new Answer(400, { error: 'body is missing' });
        const note = addNote(project, on, input.body, user.username);
        return new Answer(201, { ...COMMIT_DISCUSSION_FIXTURE, id: note.discussionId, individual_note: false, notes: [noteJson(project, note, (COMMIT_DISCUSSION_FIXTURE.notes[0] ?? {}) as Json)] });
      }
    }

    if (section === 'merge_requests') {
      // GET /projects/:id/merge_requests — merge_requests.md, "List project merge requests".
      if (tail.length === 0 && method === 'GET') {
        const state = query.state ?? 'all';
        const found = project.mergeRequests
          .filter((mr) => state === 'all' || mr.state === state)
          .filter((mr) => query.source_branch === undefined || mr.sourceBranch === query.source_branch)
          .filter((mr) => query.target_branch === undefined || mr.targetBranch === query.target_branch)
          .sort((a, b) => b.id - a.id);
        const { items, headers } = page(found, query, base);
        return new Answer(
          200,
          items.map((mr) => mergeRequestJson(project, mr, MR_LIST_ITEM_FIXTURE)),
          headers,
        );
      }
      // POST /projects/:id/merge_requests — "Create MR".
      if (tail.length === 0 && method === 'POST') {
        for (const key of ['source_branch', 'target_branch', 'title']) if (typeof input[key] !== 'string' || input[key] === '') return new Answer(400, { error: `${key} is missing` });
        const open = project.mergeRequests.find((mr) => mr.state === 'opened' && mr.sourceBranch === input.source_branch && mr.targetBranch === input.target_branch);
        if (open) return new Answer(409, { message: [`Another open merge request already exists for this source branch: !${open.iid}`] });
        const at = now();
        const mr: StubMergeRequest = {
          id: nextMrId++,
          iid: project.mergeRequests.length + 1,
          title: String(input.title),
          description: typeof input.description === 'string' ? input.description : '',
          state: 'opened',
          sourceBranch: String(input.source_branch),
          targetBranch: String(input.target_branch),
          removeSourceBranch: typeof input.remove_source_branch === 'boolean' ? input.remove_source_branch : null,
          sha: head(project, String(input.source_branch)) ?? newSha(),
          mergeCommitSha: null,
          createdAt: at,
          updatedAt: at,
          mergedAt: null,
          closedAt: null,
        };
        project.mergeRequests.push(mr);
        return new Answer(201, mergeRequestJson(project, mr, MR_FIXTURE));
      }
      const mr = tail.length === 1 ? project.mergeRequests.find((m) => m.iid === Number(tail[0])) : undefined;
      if (tail.length === 1 && !mr) return new Answer(404, { message: '404 Not found' });
      // GET /projects/:id/merge_requests/:iid — "Get single MR".
      if (mr && method === 'GET') return new Answer(200, mergeRequestJson(project, mr, MR_FIXTURE));
      // PUT /projects/:id/merge_requests/:iid — "Update MR".
      if (mr && method === 'PUT') {
        if (typeof input.title === 'string') mr.title = input.title;
        if (typeof input.description === 'string') mr.description = input.description;
        if (typeof input.target_branch === 'string') mr.targetBranch = input.target_branch;
        if (input.state_event === 'close' && mr.state === 'opened') {
          mr.state = 'closed';
          mr.closedAt = now();
        }
        if (input.state_event === 'reopen' && mr.state === 'closed') {
          mr.state = 'opened';
          mr.closedAt = null;
        }
        mr.updatedAt = now();
        return new Answer(200, mergeRequestJson(project, mr, MR_FIXTURE));
      }
    }

    // GET /projects/:id/repository/files/:file_path?ref= — repository_files.md, "Get file from repository".
    if (section === 'repository' && tail[0] === 'files' && tail.length === 2 && (method === 'GET' || method === 'HEAD')) {
      const path = tail[1] as string;
      if (!query.ref) return new Answer(400, { error: 'ref is missing' });
      const files = project.branches.get(query.ref);
      if (!files) return new Answer(404, { message: '404 Commit Not Found' });
      const file = files.get(path);
      if (!file) return new Answer(404, { message: '404 File Not Found' });
      const bytes = Buffer.from(file.content, 'utf8');
      return new Answer(200, {
        ...FILE_FIXTURE,
        file_name: posix.basename(path),
        file_path: path,
        size: bytes.length,
        encoding: 'base64',
        content: bytes.toString('base64'),
        content_sha256: createHash('sha256').update(bytes).digest('hex'),
        ref: query.ref,
        blob_id: gitBlobId(bytes),
        commit_id: head(project, query.ref) ?? file.lastCommitId,
        last_commit_id: file.lastCommitId,
        execute_filemode: false,
      });
    }

    if (section === 'repository' && tail[0] === 'commits' && tail.length === 1) {
      // GET /projects/:id/repository/commits — commits.md, "List repository commits".
      if (method === 'GET') {
        const ref = query.ref_name ?? 'main';
        const found = project.commits.filter((c) => c.branch === ref && (query.path === undefined || touches(c, query.path)));
        const { items, headers } = page(found, query, base);
        return new Answer(
          200,
          items.map((c) => commitJson(project, c, COMMIT_LIST_ITEM_FIXTURE)),
          headers,
        );
      }
      // POST /projects/:id/repository/commits — "Create a commit with multiple files and actions".
      if (method === 'POST') {
        const branch = input.branch;
        const message = input.commit_message;
        const actions = input.actions;
        if (typeof branch !== 'string' || branch === '') return new Answer(400, { error: 'branch is missing' });
        if (typeof message !== 'string' || message === '') return new Answer(400, { error: 'commit_message is missing' });
        if (!Array.isArray(actions) || actions.length === 0) return new Answer(400, { error: 'actions is missing' });
        const files = branchFiles(project, branch);
        const next = new Map(files);
        for (const raw of actions as Json[]) {
          const filePath = String(raw.file_path ?? '');
          const current = next.get(filePath);
          const content = raw.encoding === 'base64' ? Buffer.from(String(raw.content ?? ''), 'base64').toString('utf8') : String(raw.content ?? '');
          if (raw.action === 'create') {
            if (current) return new Answer(400, { message: 'A file with this name already exists' });
            next.set(filePath, { content, lastCommitId: '' });
          } else if (raw.action === 'update' || raw.action === 'delete') {
            if (!current) return new Answer(400, { message: "A file with this name doesn't exist" });
            // GitLab's Files::MultiService#validate_file_status!: the compare-and-swap on last_commit_id.
            if (typeof raw.last_commit_id === 'string' && raw.last_commit_id !== '' && raw.last_commit_id !== current.lastCommitId) {
              return new Answer(400, { message: `The file has changed since you started editing it: ${filePath}` });
            }
            if (raw.action === 'delete') next.delete(filePath);
            else next.set(filePath, { content, lastCommitId: '' });
          } else {
            return new Answer(400, { message: `Unknown action '${String(raw.action)}'` });
          }
        }
        const paths = (actions as Json[]).map((a) => String(a.file_path));
        const commit = recordCommit(project, branch, message, paths, {
          ...(typeof input.author_name === 'string' ? { name: input.author_name } : {}),
          ...(typeof input.author_email === 'string' ? { email: input.author_email } : {}),
        });
        files.clear();
        for (const [path, file] of next) files.set(path, paths.includes(path) ? { ...file, lastCommitId: commit.id } : file);
        return new Answer(201, { ...commitJson(project, commit, COMMIT_FIXTURE), stats: { additions: paths.length, deletions: paths.length, total: paths.length * 2 } });
      }
    }
    return new Answer(404, { error: '404 Not Found' });
  };

  const send = (res: ServerResponse, answer: Answer, method: string) => {
    if (res.destroyed) return;
    const text = typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body);
    const type = typeof answer.body === 'string' ? 'text/plain; charset=utf-8' : 'application/json';
    res.writeHead(answer.status, { 'content-type': type, ...answer.headers });
    res.end(method === 'HEAD' ? undefined : text);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const target = new URL(req.url ?? '/', 'http://127.0.0.1');
    const method = (req.method ?? 'GET').toUpperCase();
    const path = decodeURIComponent(target.pathname);
    const query = Object.fromEntries(target.searchParams);
    requests.push({ method, path, rawPath: target.pathname, query, headers: req.headers, body: parseBody(raw, req.headers['content-type']) });

    const delay = take(delays, method, path);
    if (delay) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          waiting.delete(timer);
          resolve();
        }, delay.ms);
        waiting.set(timer, resolve);
      });
    }
    take(hooks, method, path)?.action();
    const failure = take(failures, method, path);
    if (failure) return send(res, new Answer(failure.status, failure.body ?? defaultBody(failure.status)), method);
    if (options.token !== undefined && req.headers['private-token'] !== options.token) return send(res, new Answer(401, { message: '401 Unauthorized' }), method);

    const segments = target.pathname.split('/').slice(1).map(decodeURIComponent);
    // GET /user — users.md, "List current user (for normal users)".
    if (segments[0] === 'api' && segments[1] === 'v4' && segments[2] === 'user' && segments.length === 3 && method === 'GET') {
      return send(res, new Answer(200, { ...USER_FIXTURE, id: user.id, username: user.username, name: user.username }), method);
    }
    if (segments[0] !== 'api' || segments[1] !== 'v4' || segments[2] !== 'projects' || segments[3] === undefined) return send(res, new Answer(404, { error: '404 Not Found' }), method);
    const project = findProject(segments[3]);
    if (!project) return send(res, new Answer(404, { message: '404 Project Not Found' }), method);
    const base = new URL(`${url}${target.pathname}${target.search}`);
    send(res, route(method, project, segments.slice(4), query, parseBody(raw, req.headers['content-type']), base), method);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => send(res, new Answer(500, { message: `500 stub error: ${String(error)}` }), 'GET'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const findMergeRequest = (projectPath: string, iid: number): StubMergeRequest => {
    const mr = requireProject(projectPath).mergeRequests.find((m) => m.iid === iid);
    if (!mr) throw new Error(`gitlab stub: ${projectPath} has no merge request !${iid}`);
    return mr;
  };

  return {
    url,
    requests,
    addProject,
    setFile,
    file: (project, path, branch = 'main') => {
      const file = findProject(project)?.branches.get(branch)?.get(path);
      return file ? { ...file } : undefined;
    },
    commits: (project, branch) => requireProject(project).commits.filter((c) => branch === undefined || c.branch === branch),
    statuses: (project, sha) => requireProject(project).statuses.filter((s) => sha === undefined || s.sha === sha),
    mergeRequests: (project) => [...requireProject(project).mergeRequests],
    mergeMergeRequest(project, iid, mergeCommitSha = newSha()) {
      const mr = findMergeRequest(project, iid);
      mr.state = 'merged';
      mr.mergeCommitSha = mergeCommitSha;
      mr.mergedAt = now();
      mr.updatedAt = mr.mergedAt;
    },
    closeMergeRequest(project, iid) {
      const mr = findMergeRequest(project, iid);
      mr.state = 'closed';
      mr.closedAt = now();
      mr.updatedAt = mr.closedAt;
    },
    addMergeRequest(projectPath, input) {
      const project = requireProject(String(addProject(projectPath)));
      const at = now();
      const mr: StubMergeRequest = {
        id: nextMrId++,
        iid: project.mergeRequests.length + 1,
        title: input.title ?? `Merge ${input.sourceBranch}`,
        description: '',
        state: 'opened',
        sourceBranch: input.sourceBranch,
        targetBranch: input.targetBranch ?? 'main',
        removeSourceBranch: null,
        sha: newSha(),
        mergeCommitSha: null,
        createdAt: at,
        updatedAt: at,
        mergedAt: null,
        closedAt: null,
      };
      project.mergeRequests.push(mr);
      return mr.iid;
    },
    setMergeRequestPipelines(projectPath, iid, pipelines) {
      requireProject(projectPath).mergeRequestPipelines.set(
        iid,
        pipelines.map((p) => ({ ...MR_PIPELINE_FIXTURE, ...p })),
      );
    },
    environments: (project) => [...requireProject(project).environments],
    deployments: (project) => requireProject(project).deployments.map((d) => ({ ...d, history: [...d.history] })),
    notes: (project) => [...requireProject(project).notes],
    comment(projectPath, on, body, author) {
      const note = addNote(requireProject(projectPath), on, body, author.username);
      return { noteId: note.id, discussionId: note.discussionId };
    },
    failNext(method, pathRegex, status, body, times = 1) {
      failures.push({ method, pathRegex, status, body, remaining: times });
    },
    delayNext(method, pathRegex, ms, times = 1) {
      delays.push({ method, pathRegex, ms, remaining: times });
    },
    beforeNext(method, pathRegex, action, times = 1) {
      hooks.push({ method, pathRegex, action, remaining: times });
    },
    async close() {
      for (const [timer, release] of waiting) {
        clearTimeout(timer);
        release();
      }
      waiting.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
