import { HoistError } from '../errors.js';

/**
 * What Hoist reads of an Argo CD Application (argo-cd `pkg/apis/application/v1alpha1/types.go`,
 * `ApplicationStatus`). Values are Argo CD's own words: sync `Synced | OutOfSync | Unknown`, health
 * `Healthy | Progressing | Degraded | Suspended | Missing | Unknown`, phase
 * `Running | Terminating | Failed | Error | Succeeded`.
 */
export interface ApplicationState {
  name: string;
  /** `status.sync.revision`: the commit the live state was last compared with. */
  revision?: string;
  /** `status.sync.status`; `Unknown` when Argo CD has not compared yet. */
  sync: string;
  /** `status.health.status`; `Unknown` when not assessed yet. */
  health: string;
  /** `status.operationState.phase`; absent when no sync operation ever ran. */
  phase?: string;
  /** The commit the last (or running) sync operation applied. */
  operationRevision?: string;
  /** Why, in Argo CD's words: the health message, or a failed sync's operation message. */
  healthMessage?: string;
}

export interface ArgoCdClient {
  /** `GET /api/v1/applications/{name}`: the Application as Argo CD last reconciled it. */
  getApplication(name: string): Promise<ApplicationState>;
  /**
   * `GET /api/v1/applications/{name}?refresh=normal`: Argo CD compares with Git now instead of at its
   * next poll and answers once that reconciliation is done (server/application/application.go, Get).
   */
  refresh(name: string): Promise<ApplicationState>;
  /** `GET /api/v1/applications/{name}/resource-tree`: the live resources, with their owners (`v1alpha1ApplicationTree`). */
  resourceTree(name: string): Promise<ResourceNode[]>;
  /**
   * `GET /api/v1/applications/{name}/resource?namespace&resourceName&version&group&kind`: one resource's live manifest
   * (`applicationApplicationResourceResponse`, a JSON string), parsed.
   */
  getResource(name: string, resource: ResourceRef): Promise<unknown>;
  /**
   * `POST /api/v1/applications/{name}/resource/actions?namespace&resourceName&version&group&kind` with the action's
   * name as a JSON string (RunResourceAction: `body: "action"` in server/application/application.proto). Deprecated
   * since Argo CD 3.1 in favour of `…/actions/v2`, which no release before 3.1 serves; this one every 2.x and 3.x does.
   */
  runResourceAction(name: string, resource: ResourceRef, action: string): Promise<void>;
}

/** A resource of an Application, as Argo CD names it (`v1alpha1ResourceRef`); Argo CD leaves out empty fields. */
export interface ResourceRef {
  group: string;
  version: string;
  kind: string;
  namespace: string;
  name: string;
}

/** A node of the resource tree (`v1alpha1ResourceNode`): what Hoist reads of it. */
export interface ResourceNode extends ResourceRef {
  health?: { status?: string; message?: string } | undefined;
}

export interface ArgoCdClientOptions {
  /** The Argo CD server, e.g. `https://argocd.example.com` (with its path prefix, if it has one). */
  url: string;
  /** A token of an Argo CD account with `applications, get` on Hoist's Applications. */
  token: string;
  /** Per request; a refresh waits for the reconciliation, so keep this above a few seconds. Default 10 s. */
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 10_000;

type Json = Record<string, unknown>;

function field(value: unknown, ...path: string[]): unknown {
  let current = value;
  for (const key of path) {
    if (typeof current !== 'object' || current === null || Array.isArray(current)) return undefined;
    current = (current as Json)[key];
  }
  return current;
}

function text(value: unknown, ...path: string[]): string | undefined {
  const found = field(value, ...path);
  return typeof found === 'string' && found !== '' ? found : undefined;
}

/**
 * The state Hoist judges, read from an Application object (an API answer, or one embedded in a
 * notification). Undefined when the value has no `metadata.name`.
 */
export function readApplicationState(app: unknown): ApplicationState | undefined {
  const name = text(app, 'metadata', 'name');
  if (!name) return undefined;
  const phase = text(app, 'status', 'operationState', 'phase');
  const operationMessage = phase === 'Failed' || phase === 'Error' ? text(app, 'status', 'operationState', 'message') : undefined;
  const state: ApplicationState = {
    name,
    sync: text(app, 'status', 'sync', 'status') ?? 'Unknown',
    health: text(app, 'status', 'health', 'status') ?? 'Unknown',
  };
  const revision = text(app, 'status', 'sync', 'revision');
  // syncResult appears when the operation has applied something; while it runs, only operation.sync.revision names the commit.
  const operationRevision = text(app, 'status', 'operationState', 'syncResult', 'revision') ?? text(app, 'status', 'operationState', 'operation', 'sync', 'revision');
  const healthMessage = text(app, 'status', 'health', 'message') ?? operationMessage;
  if (revision) state.revision = revision;
  if (phase) state.phase = phase;
  if (operationRevision) state.operationRevision = operationRevision;
  if (healthMessage) state.healthMessage = healthMessage;
  return state;
}

/** Argo CD's API errors come from grpc-gateway: `{"error": …, "code": <gRPC code>, "message": …}`. */
function errorMessage(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as unknown;
    return text(parsed, 'message') ?? text(parsed, 'error');
  } catch {
    return undefined;
  }
}

/** What a request is about, for its error messages; `rights` is the Argo CD RBAC the token's account needs. */
interface Subject {
  application: string;
  what: string;
  rights: string;
}

export function createArgoCdClient(options: ArgoCdClientOptions): ArgoCdClient {
  const base = options.url.replace(/\/+$/, '');
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  // Messages name the host only: never the token, and no credentials a URL might carry.
  const host = new URL(base).host;

  /** One call: the answer's JSON, or a HoistError whose code says whether to retry and whose message says what to fix. */
  async function call(path: string, subject: Subject, init: { method?: 'GET' | 'POST'; query?: Record<string, string>; body?: unknown } = {}): Promise<unknown> {
    const query = init.query && Object.keys(init.query).length > 0 ? `?${new URLSearchParams(init.query).toString()}` : '';
    const url = `${base}/api/v1/applications/${encodeURIComponent(subject.application)}${path}${query}`;
    const name = subject.application;
    let status: number;
    let body: string;
    try {
      const response = await fetch(url, {
        method: init.method ?? 'GET',
        headers: { authorization: `Bearer ${options.token}`, accept: 'application/json', ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
        signal: AbortSignal.timeout(timeoutMs),
      });
      status = response.status;
      body = await response.text();
    } catch (error) {
      const timedOut = error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
      const code = (error as { cause?: { code?: unknown } }).cause?.code;
      const why = timedOut ? `did not answer within ${timeoutMs} ms` : `could not be reached${typeof code === 'string' ? ` (${code})` : ''}`;
      throw new HoistError('unavailable', `Argo CD at ${host} ${why} (${subject.what} "${name}")`, { retryable: true, cause: error });
    }

    if (status >= 200 && status < 300) {
      try {
        return JSON.parse(body) as unknown;
      } catch (error) {
        // A proxy's or login page's HTML, typically while Argo CD restarts.
        throw new HoistError('unavailable', `Argo CD at ${host} answered ${status} without JSON for ${subject.what} "${name}"`, { retryable: true, cause: error });
      }
    }

    const said = errorMessage(body);
    const detail = said ? `: ${said}` : '';
    if (status === 401) {
      throw new HoistError('unauthorized', `Argo CD rejected argocd.token (401${detail})`, { retryable: false });
    }
    if (status === 403) {
      // Argo CD answers 403 rather than 404 for an Application the token may not see, existing or not.
      throw new HoistError(
        'forbidden',
        `Argo CD denied access to ${subject.what} "${name}" (403${detail}): it does not exist, or the token's account lacks ` +
          `${subject.rights}; check argocd.applications and the RBAC policy`,
        { retryable: false },
      );
    }
    if (status === 404) {
      throw new HoistError(
        'not_found',
        `Argo CD at ${host} has no ${subject.what} "${name}" (404${detail}): check argocd.applications, and that argocd.url is the Argo CD server`,
        { retryable: false },
      );
    }
    if (status === 408 || status === 429 || status >= 500) {
      throw new HoistError('unavailable', `Argo CD at ${host} answered ${status} for ${subject.what} "${name}"${detail}`, { retryable: true });
    }
    // 400 is gRPC's InvalidArgument: a resource no longer in the Application's tree, an action the resource lacks.
    if (status === 400) throw new HoistError('conflict', `Argo CD refused ${subject.what} "${name}" (400${detail})`, { retryable: false });
    throw new HoistError('internal', `Argo CD at ${host} answered ${status} for ${subject.what} "${name}"${detail}`, { retryable: false });
  }

  const application = (name: string): Subject => ({ application: name, what: 'Application', rights: '`applications, get` on it (a refresh needs `applications, get` too)' });

  async function get(name: string, refresh: boolean): Promise<ApplicationState> {
    const parsed = await call('', application(name), refresh ? { query: { refresh: 'normal' } } : {});
    const state = readApplicationState(parsed);
    if (!state) throw new HoistError('unavailable', `Argo CD at ${host} answered without an Application for "${name}"`, { retryable: true });
    return state;
  }

  /** The query that names one resource of the Application, as Argo CD's resource routes take it. */
  const resourceQuery = (r: ResourceRef) => ({ namespace: r.namespace, resourceName: r.name, version: r.version, kind: r.kind, group: r.group });

  return {
    getApplication: (name) => get(name, false),
    refresh: (name) => get(name, true),
    async resourceTree(name) {
      const tree = await call('/resource-tree', { application: name, what: 'resource tree of Application', rights: '`applications, get` on it' });
      return (Array.isArray(field(tree, 'nodes')) ? (field(tree, 'nodes') as unknown[]) : []).flatMap((node): ResourceNode[] => {
        const kind = text(node, 'kind');
        const nodeName = text(node, 'name');
        if (!kind || !nodeName) return [];
        const health = field(node, 'health');
        return [
          {
            group: text(node, 'group') ?? '',
            version: text(node, 'version') ?? '',
            kind,
            namespace: text(node, 'namespace') ?? '',
            name: nodeName,
            ...(health !== undefined ? { health: { status: text(health, 'status'), message: text(health, 'message') } } : {}),
          },
        ];
      });
    },
    async getResource(name, resource) {
      const subject = { application: name, what: `${resource.kind} ${resource.namespace}/${resource.name} of Application`, rights: '`applications, get` on it' };
      const answer = await call('/resource', subject, { query: resourceQuery(resource) });
      const manifest = text(answer, 'manifest');
      try {
        if (manifest) return JSON.parse(manifest) as unknown;
      } catch (error) {
        throw new HoistError('unavailable', `Argo CD at ${host} answered a manifest that is not JSON for ${subject.what} "${name}"`, { retryable: true, cause: error });
      }
      throw new HoistError('unavailable', `Argo CD at ${host} answered without a manifest for ${subject.what} "${name}"`, { retryable: true });
    },
    async runResourceAction(name, resource, action) {
      const subject = {
        application: name,
        what: `action ${action} on ${resource.kind} ${resource.namespace}/${resource.name} of Application`,
        rights: `\`applications, action/${resource.group}/${resource.kind}/${action}\` on it`,
      };
      await call('/resource/actions', subject, { method: 'POST', query: resourceQuery(resource), body: action });
    },
  };
}
