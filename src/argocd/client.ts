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

export function createArgoCdClient(options: ArgoCdClientOptions): ArgoCdClient {
  const base = options.url.replace(/\/+$/, '');
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  // Messages name the host only: never the token, and no credentials a URL might carry.
  const host = new URL(base).host;

  async function get(name: string, refresh: boolean): Promise<ApplicationState> {
    const url = `${base}/api/v1/applications/${encodeURIComponent(name)}${refresh ? '?refresh=normal' : ''}`;
    let status: number;
    let body: string;
    try {
      const response = await fetch(url, {
        headers: { authorization: `Bearer ${options.token}`, accept: 'application/json' },
        signal: AbortSignal.timeout(timeoutMs),
      });
      status = response.status;
      body = await response.text();
    } catch (error) {
      const timedOut = error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
      const code = (error as { cause?: { code?: unknown } }).cause?.code;
      const why = timedOut ? `did not answer within ${timeoutMs} ms` : `could not be reached${typeof code === 'string' ? ` (${code})` : ''}`;
      throw new HoistError('unavailable', `Argo CD at ${host} ${why} (Application "${name}")`, { retryable: true, cause: error });
    }

    if (status >= 200 && status < 300) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(body);
      } catch (error) {
        // A proxy's or login page's HTML, typically while Argo CD restarts.
        throw new HoistError('unavailable', `Argo CD at ${host} answered ${status} without JSON for Application "${name}"`, { retryable: true, cause: error });
      }
      const state = readApplicationState(parsed);
      if (!state) throw new HoistError('unavailable', `Argo CD at ${host} answered ${status} without an Application for "${name}"`, { retryable: true });
      return state;
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
        `Argo CD denied access to Application "${name}" (403${detail}): it does not exist, or the token's account lacks ` +
          '`applications, get` on it (a refresh needs `applications, get` too); check argocd.applications and the RBAC policy',
        { retryable: false },
      );
    }
    if (status === 404) {
      throw new HoistError(
        'not_found',
        `Argo CD at ${host} has no Application "${name}" (404${detail}): check argocd.applications, and that argocd.url is the Argo CD server`,
        { retryable: false },
      );
    }
    if (status === 408 || status === 429 || status >= 500) {
      throw new HoistError('unavailable', `Argo CD at ${host} answered ${status} for Application "${name}"${detail}`, { retryable: true });
    }
    throw new HoistError('internal', `Argo CD at ${host} answered ${status} for Application "${name}"${detail}`, { retryable: false });
  }

  return {
    getApplication: (name) => get(name, false),
    refresh: (name) => get(name, true),
  };
}
