import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { inject } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import type { HoistConfig } from '../../src/config/schema.js';
import { createHoist, type Hoist, type HoistRole } from '../../src/hoist.js';
import { PROJECT_ROOT, TEST_GIT_ENV } from './git-repos.js';

export const WEBHOOK_SECRET = 'test-webhook-secret';
export const API_TOKEN = 'test-api-token';

export function testConfigText(gitopsUrl: string, extraApps = '', secrets: { webhookSecret?: string; apiToken?: string } = {}): string {
  return `gitops: { url: "${gitopsUrl}", branch: main, author: { name: Hoist, email: hoist@example.invalid } }
gitlab: { webhookSecret: ${secrets.webhookSecret ?? WEBHOOK_SECRET} }
api: { token: ${secrets.apiToken ?? API_TOKEN}, trustUserHeader: true }
environments:
  - { name: dev, path: overlays/dev, promotion: auto }
  - { name: staging, path: overlays/staging, from: dev, promotion: gated }
  - { name: prod, path: overlays/prod, from: staging, promotion: manual }
apps:
  - name: web
    project: group/web
    image: registry.example.com/group/web
    tag: $CI_COMMIT_SHORT_SHA
    branches: [main]
${extraApps}`;
}

/** A config for synthetic repos (createSyntheticGitops): one app per name, tag p<pipeline id>. */
export function appsConfig(url: string, apps: readonly string[], extra = ''): string {
  return `gitops: { url: "${url}", branch: main }
gitlab: { webhookSecret: ${WEBHOOK_SECRET} }
api: { token: ${API_TOKEN}, trustUserHeader: true }
environments:
  - { name: dev, path: overlays/dev, promotion: auto }
  - { name: prod, path: overlays/prod, from: dev, promotion: manual }
apps:
${apps.map((a) => `  - { name: ${a}, project: group/${a}, image: registry.example.com/group/${a}, tag: "p$CI_PIPELINE_ID" }`).join('\n')}
${extra}`;
}

export interface TestHoist extends Hoist {
  logs: string[];
  dataDir: string;
  prefix: string;
}

/** A real Hoist on the suite's redis-server, a temp data dir and its own Redis key prefix. */
export async function startTestHoist(
  config: HoistConfig | string,
  options: { role?: HoistRole; prefix?: string; now?: () => Date; /** another Redis than the suite's */ redisUrl?: string } = {},
): Promise<TestHoist> {
  // A config the test expects refused is refused before any temp dir exists.
  const base = typeof config === 'string' ? parseConfig(config, 'test.yaml', {}) : config;
  const dataDir = await mkdtemp(join(tmpdir(), 'hoist-data-'));
  const logs: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, callback) {
      logs.push(chunk.toString());
      callback();
    },
  });
  const prefix = options.prefix ?? `t${randomUUID().slice(0, 8)}`;
  const parsed: HoistConfig = { ...base, queue: { ...base.queue, prefix } };
  let hoist: ReturnType<typeof createHoist> | undefined;
  try {
    hoist = createHoist({
      config: parsed,
      redisUrl: options.redisUrl ?? inject('redisUrl'),
      dataDir,
      logger: pino({ level: 'debug' }, destination),
      gitBaseEnv: TEST_GIT_ENV,
      role: options.role,
      now: options.now,
    });
    await hoist.ready();
  } catch (error) {
    await hoist?.close().catch(() => undefined);
    await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
  return {
    ...hoist,
    logs,
    dataDir,
    prefix,
    async close() {
      await hoist.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export async function pipelineSample(): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(join(PROJECT_ROOT, 'test/fixtures/gitlab/pipeline-event.json'), 'utf8')) as Record<string, unknown>;
}

/** GitLab's documented sample, turned into a successful push pipeline of `project` on `ref`. */
export async function pipelineEvent(overrides: { project?: string; ref?: string; sha?: string; id?: number; status?: string; source?: string; variables?: Array<{ key: string; value: string }> } = {}) {
  const sample = await pipelineSample();
  const attrs = sample.object_attributes as Record<string, unknown>;
  const project = sample.project as Record<string, unknown>;
  const id = overrides.id ?? 1000;
  const path = overrides.project ?? 'group/web';
  return {
    ...sample,
    object_attributes: {
      ...attrs,
      id,
      ref: overrides.ref ?? 'main',
      sha: overrides.sha ?? 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678',
      status: overrides.status ?? 'success',
      source: overrides.source ?? 'push',
      url: `https://gitlab.example.com/${path}/-/pipelines/${id}`,
      ...(overrides.variables ? { variables: overrides.variables } : {}),
    },
    merge_request: overrides.source === 'merge_request_event' ? sample.merge_request : null,
    project: { ...project, path_with_namespace: path, default_branch: 'main', web_url: `https://gitlab.example.com/${path}` },
  };
}

export function webhookRequest(body: unknown, headers: Record<string, string> = {}): RequestInit {
  return {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      'X-Gitlab-Event': 'Pipeline Hook',
      'X-Gitlab-Token': WEBHOOK_SECRET,
      'Idempotency-Key': randomUUID(),
      ...headers,
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  };
}

export const apiHeaders = { Authorization: `Bearer ${API_TOKEN}` };

export async function waitFor<T>(fn: () => Promise<T | undefined>, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Polls the API until the promotion has ended; returns its final view. */
export async function settled(hoist: Hoist, id: string, timeoutMs = 20_000): Promise<Record<string, unknown>> {
  return waitFor(async () => {
    const res = await hoist.app.request(`/api/promotions/${id}`, { headers: apiHeaders });
    if (res.status !== 200) return undefined;
    const body = (await res.json()) as Record<string, unknown>;
    return ['committed', 'skipped', 'failed'].includes(body.state as string) ? body : undefined;
  }, `promotion ${id} to settle`, timeoutMs);
}
