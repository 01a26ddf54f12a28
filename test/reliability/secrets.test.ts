import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { basename, dirname, join, relative } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startGitHttpServer, type GitHttpServer } from '../helpers/git-http-server.js';
import { createTempGitops, git, TEST_GIT_ENV, type TempGitops } from '../helpers/git-repos.js';
import { pipelineEvent, startTestHoist, testConfigText, type TestHoist, waitFor, webhookRequest } from '../helpers/hoist.js';

const run = promisify(execFile);

const WEBHOOK_SECRET = 'whsec-PLANTED-webhook-1234';
const API_TOKEN = 'PLANTED-api-token-5678';
const GIT_USER = 'hoist';
const GIT_PASSWORD = 'PLANTED-git-password-9012';
const WRONG_GIT_PASSWORD = 'PLANTED-wrong-password-3456';

/** Every form in which a planted secret could leak: as such, and as the Basic-auth header value git sends. */
const NEEDLES: ReadonlyArray<[string, string]> = [
  ['webhook secret', WEBHOOK_SECRET],
  ['API token', API_TOKEN],
  ['git password', GIT_PASSWORD],
  ['wrong git password', WRONG_GIT_PASSWORD],
  ['git Basic credentials', Buffer.from(`${GIT_USER}:${GIT_PASSWORD}`).toString('base64')],
  ['wrong git Basic credentials', Buffer.from(`${GIT_USER}:${WRONG_GIT_PASSWORD}`).toString('base64')],
  // All planted values share this marker: a truncated or re-encoded secret still trips it.
  ['"PLANTED" marker', 'PLANTED'],
];

function configText(gitopsUrl: string): string {
  const api = '  - name: api\n    project: group/api\n    image: registry.example.com/group/api\n    branches: [main]\n';
  return testConfigText(gitopsUrl, api, { webhookSecret: WEBHOOK_SECRET, apiToken: API_TOKEN });
}

const apiHeaders = { Authorization: `Bearer ${API_TOKEN}` };

interface Place {
  where: string;
  text: string;
}

function leaksIn(places: readonly Place[]): string[] {
  const found: string[] = [];
  for (const { where, text } of places) {
    for (const [what, needle] of NEEDLES) {
      const at = text.indexOf(needle);
      if (at !== -1) found.push(`${what} in ${where}: …${text.slice(Math.max(0, at - 80), at + needle.length + 20)}…`);
    }
  }
  return found;
}

/** Every key under the prefix, each value dumped by its type (BullMQ jobs are hashes, its events a stream). */
async function dumpRedis(redis: Redis, prefix: string): Promise<Place[]> {
  const places: Place[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) {
      const type = await redis.type(key);
      let value: unknown;
      switch (type) {
        case 'string':
          value = await redis.get(key);
          break;
        case 'hash':
          value = await redis.hgetall(key);
          break;
        case 'list':
          value = await redis.lrange(key, 0, -1);
          break;
        case 'set':
          value = await redis.smembers(key);
          break;
        case 'zset':
          value = await redis.zrange(key, '0', '-1', 'WITHSCORES');
          break;
        case 'stream':
          value = await redis.xrange(key, '-', '+');
          break;
        case 'none':
          continue; // expired or removed between SCAN and TYPE
        default:
          throw new Error(`unexpected Redis type ${type} for ${key}`);
      }
      places.push({ where: `Redis ${key} (${type})`, text: JSON.stringify(value) });
    }
  } while (cursor !== '0');
  return places;
}

async function filesBelow(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

/** `.git/config` of working clones and `config` of bare repositories (a directory with HEAD beside it). */
async function gitConfigsBelow(dir: string): Promise<string[]> {
  const files = await filesBelow(dir);
  const set = new Set(files);
  return files.filter((f) => basename(f) === 'config' && set.has(join(dirname(f), 'HEAD')));
}

async function gitConfigValue(file: string, key: string): Promise<string | undefined> {
  try {
    const { stdout } = await run('git', ['config', '--file', file, '--get', key], { env: TEST_GIT_ENV });
    return stdout.trim();
  } catch {
    return undefined;
  }
}

describe('planted secrets never leak', () => {
  let gitops: TempGitops;
  let server: GitHttpServer;
  let hoist: TestHoist;
  let wrong: TestHoist;
  let redis: Redis;
  let remoteUrl: string;
  /** Every answer body either Hoist gave us, with the request that produced it. */
  const answers: Place[] = [];
  const errors: Place[] = [];

  async function call(target: TestHoist, name: string, path: string, init: RequestInit = {}): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await target.app.request(path, init);
    const text = await res.text();
    answers.push({ where: `answer of ${name} to ${init.method ?? 'GET'} ${path} (${res.status})`, text: `${JSON.stringify([...res.headers])}\n${text}` });
    return { status: res.status, body: JSON.parse(text) as Record<string, unknown> };
  }

  async function settle(target: TestHoist, name: string, id: string): Promise<Record<string, unknown>> {
    const final = await waitFor(async () => {
      const { status, body } = await call(target, name, `/api/promotions/${id}`, { headers: apiHeaders });
      expect(status).toBe(200);
      return ['committed', 'skipped', 'failed'].includes(body.state as string) ? body : undefined;
    }, `promotion ${id} to settle`);
    if (typeof final.error === 'string') errors.push({ where: `error of promotion ${id}`, text: final.error });
    return final;
  }

  async function promote(target: TestHoist, name: string, project: string, id: number): Promise<string> {
    const sha = `${id.toString(16).padStart(8, '0')}${'c'.repeat(32)}`;
    const res = await call(target, name, '/webhooks/gitlab', webhookRequest(await pipelineEvent({ project, id, sha }), { 'X-Gitlab-Token': WEBHOOK_SECRET }));
    expect(res.status).toBe(202);
    const promotions = res.body.promotions as Array<{ id: string }>;
    expect(promotions).toHaveLength(1);
    return promotions[0]!.id;
  }

  beforeAll(async () => {
    gitops = await createTempGitops();
    server = await startGitHttpServer({ projectRoot: gitops.root, username: GIT_USER, password: GIT_PASSWORD });
    remoteUrl = `${server.url}gitops.git`;
    const withCredentials = (password: string) => remoteUrl.replace('http://', `http://${GIT_USER}:${password}@`);
    hoist = await startTestHoist(configText(withCredentials(GIT_PASSWORD)));
    wrong = await startTestHoist(configText(withCredentials(WRONG_GIT_PASSWORD)));
    redis = new Redis(inject('redisUrl'), { lazyConnect: true });
    await redis.connect();
  });

  afterAll(async () => {
    await redis?.quit();
    await hoist?.close();
    await wrong?.close();
    await server?.stop();
    await gitops?.cleanup();
  });

  it('promotes through the password-protected Git server with the credentials from the URL', async () => {
    const before = (await git(gitops.bare, 'rev-parse', 'main')).trim();
    const id = await promote(hoist, 'hoist', 'group/web', 3101);
    const final = await settle(hoist, 'hoist', id);
    expect(final).toMatchObject({ state: 'committed', app: 'web', env: 'dev', tag: '00000c1d' });
    const head = (await git(gitops.bare, 'rev-parse', 'main')).trim();
    expect(final.commit).toBe(head);
    expect((await git(gitops.bare, 'rev-parse', 'main~1')).trim()).toBe(before);
    // git only learned the password through Hoist's askpass: the server saw it in a Basic header.
    const pushes = server.requests.filter((r) => r.path === '/gitops.git/git-receive-pack');
    expect(pushes.length).toBeGreaterThan(0);
    expect(pushes.every((r) => r.authorization === 'accepted' && r.username === GIT_USER && r.status === 200)).toBe(true);
  });

  it('answers readiness and the environments view from the protected remote', async () => {
    const ready = await call(hoist, 'hoist', '/readyz');
    expect(ready).toMatchObject({ status: 200, body: { status: 'ready', checks: { redis: 'ok', gitops: 'ok' } } });
    const envs = await call(hoist, 'hoist', '/api/environments', { headers: apiHeaders });
    expect(envs.status).toBe(200);
    expect(envs.body.commit).toBe((await git(gitops.bare, 'rev-parse', 'main')).trim());
    const dev = (envs.body.environments as Array<{ name: string; apps: Array<{ app: string; tag: string }> }>).find((e) => e.name === 'dev');
    expect(dev?.apps.find((a) => a.app === 'web')?.tag).toBe('00000c1d');
  });

  it('refuses wrong and swapped tokens without echoing what was sent', async () => {
    const event = await pipelineEvent({ id: 3102 });
    const hook = (token: string | undefined) => {
      const init = webhookRequest(event, token === undefined ? {} : { 'X-Gitlab-Token': token });
      if (token === undefined) delete (init.headers as Record<string, string>)['X-Gitlab-Token'];
      return init;
    };
    // A caller that mixes up the two secrets sends a real secret to the wrong place: it must not be logged.
    for (const token of [undefined, 'whsec-wrong', API_TOKEN]) {
      expect((await call(hoist, 'hoist', '/webhooks/gitlab', hook(token))).status).toBe(401);
    }
    for (const authorization of [undefined, 'Bearer wrong-token', `Bearer ${WEBHOOK_SECRET}`, `Basic ${Buffer.from(`x:${API_TOKEN}x`).toString('base64')}`]) {
      const res = await call(hoist, 'hoist', '/api/promotions/p-000', authorization === undefined ? {} : { headers: { Authorization: authorization } });
      expect(res.status).toBe(401);
    }
    expect(await git(gitops.bare, 'rev-list', '--count', 'main')).toBe('2\n');
  });

  it('reports a failed promotion with its reason', async () => {
    const id = await promote(hoist, 'hoist', 'group/api', 3103);
    const final = await settle(hoist, 'hoist', id);
    expect(final).toMatchObject({ state: 'failed', app: 'api', env: 'dev' });
    expect(final.error).toMatch(/does not render registry\.example\.com\/group\/api:00000c1f/);
    expect(await git(gitops.bare, 'rev-list', '--count', 'main')).toBe('2\n');
  });

  it('a Hoist with a wrong git password is not ready and fails its promotion naming the refused credentials', async () => {
    const ready = await call(wrong, 'wrong', '/readyz');
    expect(ready.status).toBe(503);
    expect((ready.body.checks as Record<string, string>).gitops).toMatch(/refused our credentials/);
    const envs = await call(wrong, 'wrong', '/api/environments', { headers: apiHeaders });
    expect(envs).toMatchObject({ status: 502, body: { code: 'git_auth', error: expect.stringMatching(/refused our credentials/) } });

    const id = await promote(wrong, 'wrong', 'group/web', 3104);
    const final = await settle(wrong, 'wrong', id);
    expect(final).toMatchObject({ state: 'failed', attempts: 1 });
    expect(final.error).toMatch(/refused our credentials/);
    expect(final.error).toContain(remoteUrl);
    expect(server.requests.some((r) => r.authorization === 'refused' && r.username === GIT_USER)).toBe(true);
    expect(await git(gitops.bare, 'rev-list', '--count', 'main')).toBe('2\n');
  });

  it('no planted secret is in the logs, answers, promotion errors, Redis or the data dirs', async () => {
    // The places must hold what a leak would be found in, or finding nothing proves nothing.
    expect(hoist.logs.some((l) => l.includes('pushed GitOps commit'))).toBe(true);
    expect(wrong.logs.some((l) => l.includes('refused our credentials'))).toBe(true);
    expect(errors.length).toBe(2);
    expect(answers.length).toBeGreaterThan(10);

    const places: Place[] = [...answers, ...errors];
    for (const [name, target] of [['hoist', hoist], ['wrong', wrong]] as const) {
      target.logs.forEach((line, i) => places.push({ where: `log line ${i} of ${name}`, text: line }));
      const stored = await dumpRedis(redis, target.prefix);
      expect(stored.some((p) => /\(hash\)$/.test(p.where) && p.text.includes('"data"'))).toBe(true);
      places.push(...stored);
      for (const file of await filesBelow(target.dataDir)) {
        places.push({ where: `${name} data dir file ${relative(target.dataDir, file)}`, text: await readFile(file, 'latin1') });
      }
    }
    const failureStored = (await dumpRedis(redis, wrong.prefix)).some((p) => p.text.includes('refused our credentials'));
    expect(failureStored).toBe(true);
    expect(leaksIn(places)).toEqual([]);

    // The working clone's remote is stored, but without credentials; no repository remembers any.
    const configs = await gitConfigsBelow(hoist.dataDir);
    const origins = await Promise.all(configs.map(async (file) => [relative(hoist.dataDir, file), await gitConfigValue(file, 'remote.origin.url')] as const));
    expect(origins.filter(([, url]) => url !== undefined)).toEqual([[expect.stringMatching(/^workspaces\/[0-9a-f]{16}\/\.git\/config$/), remoteUrl]]);
    for (const file of [...configs, ...(await gitConfigsBelow(wrong.dataDir))]) {
      const text = await readFile(file, 'utf8');
      expect(text, file).not.toMatch(/:\/\/[^/\s]*@/);
      expect(text, file).not.toMatch(/helper|askpass|password/i);
    }
  });
});
