import { readFileSync } from 'node:fs';
import { createServer, STATUS_CODES, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parse } from 'yaml';

/**
 * A local stand-in for the part of Argo CD's API server Hoist uses: `GET /api/v1/applications/{name}`
 * (with `?refresh=normal|hard`), and for an Application holding an Argo Rollouts `Rollout` its
 * `GET …/resource-tree`, `GET …/resource` and `POST …/resource/actions` (shapes in
 * test/fixtures/argocd/swagger-rollout-operations.json). Applications are deep copies of test/fixtures/argocd/application.json
 * (Argo CD's own test data) with a few status fields overridden. Errors carry grpc-gateway's body
 * `{"error": …, "code": <gRPC code>, "message": …}` (the `runtimeError` of argo-cd's assets/swagger.json):
 * - no `Authorization: Bearer <token>` → 401 "no session information" (argo-cd server/server.go ErrNoSession);
 * - another token → 401 "invalid session: …";
 * - an Application the stub does not hold → 403 "permission denied": Argo CD never says 404 for an
 *   Application the caller may not see, existing or not (server/application/application.go getAppEnforceRBAC).
 */
export interface ArgoCdStub {
  /** Base URL, e.g. `http://127.0.0.1:40123`: give it to createArgoCdClient as `url`. */
  url: string;
  /** The token the stub accepts (`Authorization: Bearer <token>`). */
  token: string;
  /** Every request, in arrival order (forced failures and hung ones included). */
  requests: ArgoCdStubRequest[];
  /**
   * Creates or updates an Application: a fresh deep copy of the fixture named `name`, with the given
   * fields set. `revision` sets status.sync.revision and, unless `operationRevision` says otherwise, the
   * last operation's revisions too. `phase: null` removes status.operationState (never synced by an
   * operation). Fields not given keep the fixture's values (Synced, Healthy, Succeeded).
   */
  setApplication(name: string, fields?: ApplicationFields): void;
  /** The Application as the stub would answer it now (a copy), or undefined. */
  application(name: string): Record<string, unknown> | undefined;
  deleteApplication(name: string): void;
  /**
   * The live Rollout of an Application (a manifest such as `rolloutFixture(…)` gives), or none. Its resource tree is
   * then the fixture tree (resource-tree-rollout.json) with the Rollout's namespace and name; without one, no nodes.
   */
  setRollout(application: string, manifest: Record<string, unknown> | undefined): void;
  /** The live Rollout as the stub holds it now (a copy, with what actions did to it). */
  rollout(application: string): LiveRollout | undefined;
  /**
   * Runs after an action changed the live Rollout as Argo CD's built-in Lua does, so a test can play the controller
   * (move to the next step, finish the promotion). Throwing makes the action fail with a 500.
   */
  onAction(handler: ((application: string, action: string, rollout: LiveRollout) => void) | undefined): void;
  /** Runs before a refresh is answered, so a test can make the refresh "see" a new commit. */
  onRefresh(handler: ((name: string, mode: string) => void) | undefined): void;
  /**
   * The next `times` requests (any path, before the token check) answer `status` with a grpc-gateway
   * error body, or with `body` as text/html when given (a proxy's page, say).
   */
  failNext(status: number, times?: number, body?: string): void;
  /** The next `times` requests get no answer at all until close(): for client timeouts. */
  hangNext(times?: number): void;
  close(): Promise<void>;
}

export interface ApplicationFields {
  revision?: string;
  sync?: string;
  health?: string;
  phase?: string | null;
  operationRevision?: string;
  healthMessage?: string;
  operationMessage?: string;
}

export interface ArgoCdStubRequest {
  method: string;
  /** Decoded pathname: `/api/v1/applications/web-dev`. */
  path: string;
  /** The request target exactly as sent, still percent-encoded: `/api/v1/applications/web-dev?refresh=normal`. */
  rawUrl: string;
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  /** The request body as sent (empty for a GET). */
  body: string;
}

/**
 * A live Argo Rollouts Rollout as the tests shape it (argo-rollouts `pkg/apis/rollouts/v1alpha1/types.go`): the fields
 * they read or set are named, everything else stays as upstream's fixture has it.
 */
export interface LiveRollout {
  metadata: { name?: string; namespace?: string; generation?: number; [key: string]: unknown };
  spec: {
    paused?: boolean;
    strategy: { canary?: { steps?: unknown[]; [key: string]: unknown }; blueGreen?: Record<string, unknown> };
    template: { spec: { containers: Array<{ image: string; [key: string]: unknown }> } };
    [key: string]: unknown;
  };
  status: {
    currentStepIndex?: number;
    pauseConditions?: Array<{ reason: string; startTime: string }>;
    controllerPause?: boolean;
    phase?: string;
    message?: string;
    currentPodHash?: string;
    stableRS?: string;
    abort?: boolean;
    promoteFull?: boolean;
    observedGeneration?: string | number;
    blueGreen?: { activeSelector?: string; previewSelector?: string };
    canary?: Record<string, unknown>;
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

export interface ArgoCdStubOptions {
  /** The token to accept; default `argocd-stub-token`. */
  token?: string;
}

type Json = Record<string, unknown>;

const FIXTURE = readFileSync(new URL('../fixtures/argocd/application.json', import.meta.url), 'utf8');
const TREE_FIXTURE = readFileSync(new URL('../fixtures/argocd/resource-tree-rollout.json', import.meta.url), 'utf8');

export type RolloutFixture = 'canary-paused' | 'canary-aborted' | 'canary-healthy' | 'bluegreen-paused';

/** A fresh copy of an upstream Rollout from test/fixtures/argocd/rollout-<name>.yaml (README.md there says whose). */
export function rolloutFixture(name: RolloutFixture): LiveRollout {
  return parse(readFileSync(new URL(`../fixtures/argocd/rollout-${name}.yaml`, import.meta.url), 'utf8')) as LiveRollout;
}

/** The fixture tree, its Rollout (and the ReplicaSet's owner reference) renamed to the given one. */
function treeFor(rollout: LiveRollout): Json {
  const tree = JSON.parse(TREE_FIXTURE) as { nodes: Array<Json & { parentRefs?: Json[] }> };
  const [fixtureRollout] = tree.nodes;
  const rename = (ref: Json) => {
    if (ref.kind !== 'Rollout' || ref.name !== fixtureRollout?.name) return;
    ref.name = rollout.metadata?.name;
    ref.namespace = rollout.metadata?.namespace;
  };
  for (const node of tree.nodes) {
    rename(node);
    for (const parent of node.parentRefs ?? []) rename(parent);
    if (node.kind === 'ReplicaSet') node.namespace = rollout.metadata?.namespace;
  }
  return tree as unknown as Json;
}

/**
 * What Argo CD's built-in Rollout actions do to the live object (argo-cd resource_customizations/argoproj.io/Rollout/
 * actions/{resume,promote-full,abort}/action.lua); the controller reacts afterwards.
 */
function runLuaAction(rollout: LiveRollout, action: string): boolean {
  const status = rollout.status;
  if (action === 'resume') {
    if (Array.isArray(status.pauseConditions) && status.pauseConditions.length > 0) delete status.pauseConditions;
    if (rollout.spec.paused === true) rollout.spec.paused = false;
    return true;
  }
  if (action === 'promote-full') {
    const generation = /^\d+$/.test(String(status.observedGeneration)) ? Number(status.observedGeneration) : undefined;
    if (generation === undefined || generation > Number(rollout.metadata.generation)) {
      delete status.abort;
      const steps = rollout.spec.strategy.canary?.steps;
      if (Array.isArray(steps)) status.currentStepIndex = steps.length;
    } else {
      status.promoteFull = true;
    }
    return true;
  }
  if (action === 'abort') {
    status.abort = true;
    return true;
  }
  return false;
}

/** gRPC status codes as grpc-gateway maps them to HTTP (google.golang.org/grpc/codes). */
const GRPC_CODE: Record<number, number> = { 400: 3, 401: 16, 403: 7, 404: 5, 409: 6, 429: 8, 499: 1, 500: 2, 501: 12, 503: 14, 504: 4 };

const object = (parent: Json, key: string): Json => {
  const value = parent[key];
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Json;
  const created: Json = {};
  parent[key] = created;
  return created;
};

function buildApplication(name: string, fields: ApplicationFields): Json {
  const app = JSON.parse(FIXTURE) as Json;
  object(app, 'metadata').name = name;
  const status = object(app, 'status');
  if (fields.sync !== undefined) object(status, 'sync').status = fields.sync;
  if (fields.revision !== undefined) object(status, 'sync').revision = fields.revision;
  if (fields.health !== undefined) object(status, 'health').status = fields.health;
  if (fields.healthMessage !== undefined) object(status, 'health').message = fields.healthMessage;
  if (fields.phase === null) {
    delete status.operationState;
    return app;
  }
  const operationState = object(status, 'operationState');
  if (fields.phase !== undefined) operationState.phase = fields.phase;
  if (fields.operationMessage !== undefined) operationState.message = fields.operationMessage;
  const operationRevision = fields.operationRevision ?? fields.revision;
  if (operationRevision !== undefined) {
    object(operationState, 'syncResult').revision = operationRevision;
    object(object(operationState, 'operation'), 'sync').revision = operationRevision;
  }
  return app;
}

const errorBody = (status: number, message: string) => ({ error: message, code: GRPC_CODE[status] ?? 2, message });

export async function startArgoCdStub(options: ArgoCdStubOptions = {}): Promise<ArgoCdStub> {
  const token = options.token ?? 'argocd-stub-token';
  const requests: ArgoCdStubRequest[] = [];
  const applications = new Map<string, Json>();
  const failures: Array<{ status: number; remaining: number; body: string | undefined }> = [];
  let hangs = 0;
  let refreshHandler: ((name: string, mode: string) => void) | undefined;
  const rollouts = new Map<string, LiveRollout>();
  let actionHandler: ((application: string, action: string, rollout: LiveRollout) => void) | undefined;

  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => answer(req, res, Buffer.concat(chunks).toString('utf8')));
  });

  const answer = (req: IncomingMessage, res: ServerResponse, body: string) => {
    const parsed = new URL(req.url ?? '/', 'http://stub');
    let path = parsed.pathname;
    try {
      path = decodeURIComponent(parsed.pathname);
    } catch {
      // keep the raw path; it will not match an Application
    }
    const query = Object.fromEntries(parsed.searchParams);
    requests.push({ method: req.method ?? '', path, rawUrl: req.url ?? '', query, headers: req.headers, body });

    if (hangs > 0) {
      hangs -= 1;
      return; // answered never; close() drops the connection
    }
    const failure = failures[0];
    if (failure) {
      if (--failure.remaining <= 0) failures.shift();
      if (failure.body === undefined) {
        send(res, failure.status, errorBody(failure.status, STATUS_CODES[failure.status] ?? 'error'));
      } else {
        res.writeHead(failure.status, { 'content-type': 'text/html' });
        res.end(failure.body);
      }
      return;
    }

    const match = /^\/api\/v1\/applications\/([^/]+)(\/resource-tree|\/resource|\/resource\/actions)?$/.exec(parsed.pathname);
    const route = match?.[2] ?? '';
    if (!match || req.method !== (route === '/resource/actions' ? 'POST' : 'GET')) {
      send(res, 404, errorBody(404, 'Not Found'));
      return;
    }
    const authorization = req.headers.authorization;
    if (!authorization) {
      send(res, 401, errorBody(401, 'no session information'));
      return;
    }
    if (authorization !== `Bearer ${token}`) {
      send(res, 401, errorBody(401, 'invalid session: token signature is invalid'));
      return;
    }
    let name: string;
    try {
      name = decodeURIComponent(match[1] ?? '');
    } catch {
      send(res, 403, errorBody(403, 'permission denied'));
      return;
    }
    // Argo CD takes any refresh value other than "hard" as a normal refresh.
    if (query.refresh !== undefined) refreshHandler?.(name, query.refresh === 'hard' ? 'hard' : 'normal');
    const app = applications.get(name);
    if (!app) {
      send(res, 403, errorBody(403, 'permission denied'));
      return;
    }
    if (route === '') {
      send(res, 200, app);
      return;
    }
    const rollout = rollouts.get(name);
    if (route === '/resource-tree') {
      send(res, 200, rollout ? treeFor(rollout) : {});
      return;
    }
    // getAppLiveResource: a resource that is not in the Application's tree is InvalidArgument (gRPC 3, HTTP 400).
    const isOurs =
      rollout !== undefined && query.group === 'argoproj.io' && query.kind === 'Rollout' && query.resourceName === rollout.metadata?.name && query.namespace === rollout.metadata?.namespace;
    if (!isOurs) {
      send(res, 400, errorBody(400, `${query.kind ?? ''} ${query.group ?? ''} ${query.resourceName ?? ''} not found as part of application ${name}`));
      return;
    }
    if (route === '/resource') {
      send(res, 200, { manifest: JSON.stringify(rollout) });
      return;
    }
    // body: "action" — the body is the action's name as a JSON string; anything else does not unmarshal.
    let action: unknown;
    try {
      action = JSON.parse(body) as unknown;
    } catch {
      action = undefined;
    }
    if (typeof action !== 'string') {
      send(res, 400, errorBody(400, 'json: cannot unmarshal the body into Go value of type string'));
      return;
    }
    if (!runLuaAction(rollout, action)) {
      send(res, 500, errorBody(500, `error getting Lua resource action: action ${action} not found`));
      return;
    }
    try {
      actionHandler?.(name, action, rollout);
    } catch (error) {
      send(res, 500, errorBody(500, (error as Error).message));
      return;
    }
    send(res, 200, {});
  };

  server.listen(0, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    token,
    requests,
    setApplication(name, fields = {}) {
      applications.set(name, buildApplication(name, fields));
    },
    application(name) {
      const app = applications.get(name);
      return app === undefined ? undefined : (JSON.parse(JSON.stringify(app)) as Json);
    },
    deleteApplication(name) {
      applications.delete(name);
    },
    setRollout(application, manifest) {
      if (manifest === undefined) rollouts.delete(application);
      else rollouts.set(application, JSON.parse(JSON.stringify(manifest)) as LiveRollout);
    },
    rollout(application) {
      const rollout = rollouts.get(application);
      return rollout === undefined ? undefined : (JSON.parse(JSON.stringify(rollout)) as LiveRollout);
    },
    onAction(handler) {
      actionHandler = handler;
    },
    onRefresh(handler) {
      refreshHandler = handler;
    },
    failNext(status, times = 1, body) {
      failures.push({ status, remaining: times, body });
    },
    hangNext(times = 1) {
      hangs += times;
    },
    close() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
