import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { gzipSync } from 'node:zlib';
import { createSyntheticGitops } from '../../test/helpers/git-repos.js';
import { API_TOKEN, appsConfig, pipelineEvent, WEBHOOK_SECRET } from '../../test/helpers/hoist.js';
import type { BenchContext } from '../lib/context.js';
import { SCRIPTS } from '../lib/promotions.js';
import { round, summarize, type Summary } from '../lib/stats.js';
import { bodyParts, uniformLoad, type LoadResult } from './intake.js';

export interface BoardResult {
  apps: number;
  environments: number;
  /** Making the state the board shows (landings in every cell, 100 cells to promote, 5 pending), by Hoist itself. */
  setupS: number;
  firstHtml: { runs: number; ms: Summary; bytes: number; gzipBytes: number; promoteButtons: number; rollbackButtons: number; pending: number };
  /** The fragment the client script fetches after an event. */
  fragment: { runs: number; ms: Summary; bytes: number };
  /** `with`: 100 board tabs (`?summary=true`, as the board opens them); `withFollowers`: 100 API followers (every event). */
  intake: { rate: number; durationS: number; streams: number; without: LoadResult[]; with: LoadResult; withFollowers: LoadResult; changesDelivered: number; eventsDelivered: number };
}

const ENVS = ['dev', 'staging', 'prod', 'prod-eu'] as const;
const appName = (i: number) => `app-${String(i).padStart(3, '0')}`;

/** A bare GitOps repo: `apps` Deployments in one base, four overlays that set every app's tag. */
function boardConfig(url: string, apps: readonly string[]): string {
  return `gitops: { url: "${url}", branch: main }
gitlab: { webhookSecret: ${WEBHOOK_SECRET} }
api: { token: ${API_TOKEN}, trustUserHeader: true }
auth: { demo: true, publicUrl: "http://127.0.0.1:8080" }
queue: { gateInterval: 200ms }
environments:
  - { name: dev, path: overlays/dev, promotion: auto }
  - { name: staging, path: overlays/staging, from: dev, promotion: gated, gates: { window: "Mon-Sun 00:00-24:00" } }
  - { name: prod, path: overlays/prod, from: staging, promotion: manual, approvals: { required: 2, approvers: ["*"] } }
  - { name: prod-eu, path: overlays/prod-eu, from: prod, promotion: manual }
apps:
${apps.map((a) => `  - { name: ${a}, project: group/${a}, image: registry.example.com/group/${a}, tag: "p$CI_PIPELINE_ID" }`).join('\n')}
`;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Scenario 9: the board. 200 apps × 4 environments, put in place by Hoist itself (pipelines, the gated chain, a
 * release train approved by two people), then the board's first HTML as a signed-in person loads it: 50
 * sequential GET / after a warm-up, time to the last byte and its size. Then webhook intake (HOIST_ROLE=web, a
 * uniform 500 req/s) without, with, and again without 100 open GET /api/events streams.
 */
export async function boardScenario(ctx: BenchContext): Promise<BoardResult> {
  const appCount = 200;
  const runs = ctx.quick ? 15 : 50;
  const apps = Array.from({ length: appCount }, (_, i) => appName(i));
  const repo = await createSyntheticGitops(apps, { environments: ENVS });
  ctx.defer(() => repo.cleanup());
  await ctx.flushRedis();
  const setupStart = performance.now();
  // The render check is not what this scenario measures: the stub renderer keeps the setup short.
  const service = await ctx.startHoist({ name: '9 board', scenario: '9 board', configText: boardConfig(repo.url, apps), role: 'all', env: { HOIST_KUSTOMIZE: `bash ${join(SCRIPTS, 'stub-render.sh')}` } });
  const api = async (path: string, init: RequestInit = {}, user = 'alice') => {
    const res = await fetch(`${service.url}${path}`, { ...init, headers: { Authorization: `Bearer ${API_TOKEN}`, 'X-Hoist-User': user, 'Content-Type': 'application/json', ...(init.headers as Record<string, string>) } });
    if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${path}: ${res.status} ${await res.text()}`);
    return res.json() as Promise<Record<string, unknown>>;
  };
  const tagsOf = async () => {
    const body = (await api('/api/environments')) as { environments: Array<{ name: string; apps: Array<{ app: string; tag: string | null }> }> };
    return new Map(body.environments.map((e) => [e.name, new Map(e.apps.map((a) => [a.app, a.tag]))]));
  };
  const until = async (what: string, check: (tags: Awaited<ReturnType<typeof tagsOf>>) => boolean, timeoutS = 240) => {
    const deadline = performance.now() + timeoutS * 1000;
    for (;;) {
      if (check(await tagsOf())) return;
      if (performance.now() > deadline) throw new Error(`9 board: ${what} did not happen within ${timeoutS} s`);
      await sleep(250);
    }
  };
  const pipelines = async (ids: Array<[string, number]>) => {
    for (const [app, id] of ids) {
      const res = await fetch(`${service.url}/webhooks/gitlab`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-Gitlab-Event': 'Pipeline Hook', 'X-Gitlab-Token': WEBHOOK_SECRET, 'Idempotency-Key': `board-${app}-${id}` },
        body: JSON.stringify(await pipelineEvent({ project: `group/${app}`, id })),
      });
      if (res.status !== 202) throw new Error(`webhook for ${app}: ${res.status} ${await res.text()}`);
    }
  };
  const allAt = (env: string, want: (i: number) => string) => (tags: Awaited<ReturnType<typeof tagsOf>>) => apps.every((a, i) => tags.get(env)?.get(a) === want(i));

  ctx.log(`9 board: setting up ${appCount} apps × ${ENVS.length} environments through Hoist (pipelines, gated chain, an approved release train)`);
  await pipelines(apps.map((a, i) => [a, 1000 + i]));
  await until('round 1 in staging', allAt('staging', (i) => `p${1000 + i}`));
  // Release trains of at most 100 apps (the API's limit).
  const trains = [apps.slice(0, 100), apps.slice(100)];
  for (const cars of trains) {
    const train = await api('/api/promotions', { method: 'POST', body: JSON.stringify({ apps: cars, env: 'prod' }) });
    await api(`/api/promotions/${String(train.id)}/approve`, { method: 'POST' }, 'bob');
    await api(`/api/promotions/${String(train.id)}/approve`, { method: 'POST' }, 'carol');
  }
  await until('the trains in prod', allAt('prod', (i) => `p${1000 + i}`));
  for (const cars of trains) await api('/api/promotions', { method: 'POST', body: JSON.stringify({ apps: cars, env: 'prod-eu' }) }, 'dave');
  await until('the trains in prod-eu', allAt('prod-eu', (i) => `p${1000 + i}`));
  // Half the apps move on in dev and staging: their prod cells differ (a Promote button each); five ask for prod.
  const half = apps.filter((_, i) => i % 2 === 0);
  await pipelines(half.map((a) => [a, 2000 + apps.indexOf(a)]));
  await until('round 2 in staging', (tags) => half.every((a) => tags.get('staging')?.get(a) === `p${2000 + apps.indexOf(a)}`));
  for (const app of half.slice(0, 5)) await api('/api/promotions', { method: 'POST', body: JSON.stringify({ app, env: 'prod' }) }, 'erin');
  const setupS = round((performance.now() - setupStart) / 1000);
  ctx.log(`9 board: set up in ${setupS} s`);

  // A person signs in (the demo's form), as the browser would.
  const signIn = await fetch(`${service.url}/auth/demo`, { method: 'POST', redirect: 'manual', headers: { Origin: service.url, 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'name=alice&return=/' });
  const cookie = (signIn.headers.get('set-cookie') ?? '').split(';')[0] as string;
  const get = async (path: string) => {
    const start = performance.now();
    const res = await fetch(`${service.url}${path}`, { headers: { Cookie: cookie }, redirect: 'manual' });
    const body = await res.text();
    const ms = performance.now() - start;
    if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${body.slice(0, 300)}`);
    return { ms, body };
  };
  for (let i = 0; i < 10; i++) await get('/');
  const pageTimes: number[] = [];
  let html = '';
  for (let i = 0; i < runs; i++) {
    const { ms, body } = await get('/');
    pageTimes.push(ms);
    html = body;
  }
  const fragmentTimes: number[] = [];
  let fragment = '';
  for (let i = 0; i < runs; i++) {
    const { ms, body } = await get('/board/live');
    fragmentTimes.push(ms);
    fragment = body;
  }
  const count = (re: RegExp) => (html.match(re) ?? []).length;
  const firstHtml = {
    runs,
    ms: summarize(pageTimes),
    bytes: Buffer.byteLength(html),
    gzipBytes: gzipSync(html).length,
    promoteButtons: count(/>Promote<\/button>/g),
    rollbackButtons: count(/>Rollback<\/button>/g),
    pending: count(/<li class="card">/g),
  };
  ctx.log(`9 board: GET / p50 ${firstHtml.ms.p50} ms, p99 ${firstHtml.ms.p99} ms, ${Math.round(firstHtml.bytes / 1024)} KiB (${Math.round(firstHtml.gzipBytes / 1024)} KiB gzipped)`);
  await service.finish();

  // Intake with and without open event streams: the web role alone, as in scenario 1.
  await ctx.flushRedis();
  const small = await createSyntheticGitops(['web'], { environments: ENVS });
  ctx.defer(() => small.cleanup());
  const web = await ctx.startHoist({ name: '9 board intake', scenario: '9 board', configText: appsConfig(small.url, ['web']), role: 'web' });
  const parts = await bodyParts();
  const durationS = ctx.quick ? 5 : 20;
  const rate = 500;
  const load = (label: string) => uniformLoad(web.url, parts, label, { rate, durationS, sockets: 50 });
  ctx.log(`9 board: intake at ${rate} req/s for ${durationS} s: without, with 100 open event streams, without again`);
  await uniformLoad(web.url, parts, 'board-warmup', { rate, durationS: ctx.quick ? 1 : 3, sockets: 50 });
  const before = await load('board-without-1');
  // The 100 readers live in a process of their own, as 100 browsers would: reading 50,000 events a second in the
  // load generator's own event loop would delay its sends and count that as Hoist's latency.
  const withReaders = async (mode: 'summary' | 'every', label: string) => {
    const readers = spawn(process.execPath, [join(SCRIPTS, 'event-stream-readers.mjs'), web.url, API_TOKEN, '100', mode], { stdio: ['pipe', 'pipe', 'inherit'] });
    const lines = createInterface({ input: readers.stdout });
    const nextLine = () =>
      new Promise<string>((resolve, reject) => {
        lines.once('line', resolve);
        readers.once('exit', (code) => reject(new Error(`event-stream readers exited (${code})`)));
      });
    if ((await nextLine()) !== 'open') throw new Error('event-stream readers did not open their streams');
    await sleep(500);
    const result = await load(label);
    const counted = nextLine();
    readers.stdin.end();
    const delivered = Number(await counted);
    await sleep(500);
    return { result, delivered };
  };
  const tabs = await withReaders('summary', 'board-with-tabs');
  const followers = await withReaders('every', 'board-with-followers');
  const withStreams = tabs.result;
  const delivered = followers.delivered;
  const after = await load('board-without-2');
  await web.finish();
  await ctx.flushRedis();
  ctx.log(`9 board: intake p99 ${before.latencyMs.p99} / ${withStreams.latencyMs.p99} (100 board tabs) / ${followers.result.latencyMs.p99} (100 API followers, ${delivered} events delivered) / ${after.latencyMs.p99} ms`);
  return {
    apps: appCount,
    environments: ENVS.length,
    setupS,
    firstHtml,
    fragment: { runs, ms: summarize(fragmentTimes), bytes: Buffer.byteLength(fragment) },
    intake: { rate, durationS, streams: 100, without: [before, after], with: withStreams, withFollowers: followers.result, changesDelivered: tabs.delivered, eventsDelivered: delivered },
  };
}
