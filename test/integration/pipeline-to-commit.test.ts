import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { createTempGitops, git, type TempGitops } from '../helpers/git-repos.js';
import { apiHeaders, pipelineEvent, settled, startTestHoist, testConfigText, waitFor, webhookRequest, type TestHoist } from '../helpers/hoist.js';

const run = promisify(execFile);

async function renderedImages(dir: string): Promise<string[]> {
  const { stdout } = await run('kubectl', ['kustomize', dir], { maxBuffer: 16 * 1024 * 1024 });
  const images: string[] = [];
  for (const doc of parseAllDocuments(stdout)) {
    const spec = (doc.toJS() as { spec?: { template?: { spec?: { containers?: Array<{ image: string }> } } } }).spec;
    for (const c of spec?.template?.spec?.containers ?? []) images.push(c.image);
  }
  return images;
}

describe('GitLab pipeline webhook → dev overlay commit', () => {
  let gitops: TempGitops;
  let hoist: TestHoist;

  beforeEach(async () => {
    gitops = await createTempGitops();
    hoist = await startTestHoist(testConfigText(gitops.url));
  });
  afterEach(async () => {
    await hoist.close();
    await gitops.cleanup();
  });

  it('commits the templated tag into the auto environment, touching only the tag line', async () => {
    const before = await git(gitops.bare, 'rev-parse', 'main');
    const sha = '0123456789abcdef0123456789abcdef01234567'; // short SHA 01234567: an octal-looking YAML 1.1 hazard
    const res = await hoist.app.request('/webhooks/gitlab', webhookRequest(await pipelineEvent({ sha, id: 4242 })));
    expect(res.status).toBe(202);
    const body = (await res.json()) as { promotions: Array<{ id: string; app: string; env: string; tag: string }> };
    expect(body.promotions).toEqual([{ id: expect.stringMatching(/^p-[0-9a-f]{24}$/), app: 'web', env: 'dev', tag: '01234567' }]);

    const final = await settled(hoist, body.promotions[0]!.id);
    expect(final).toMatchObject({ state: 'committed', app: 'web', env: 'dev', tag: '01234567' });
    // One request id follows the promotion from the webhook through the job to the commit.
    const requestId = res.headers.get('x-request-id');
    // The job logs right after the state is stored, so the line may trail the state by a moment.
    const settledLog = await waitFor(
      async () => hoist.logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'promotion settled' && l.promotionId === body.promotions[0]!.id),
      'the promotion settled log line',
    );
    expect(settledLog).toMatchObject({ requestId, commit: expect.any(String) });
    const head = (await git(gitops.bare, 'rev-parse', 'main')).trim();
    expect(final.commit).toBe(head);
    expect((await git(gitops.bare, 'rev-parse', 'main~1')).trim()).toBe(before.trim());

    const message = await git(gitops.bare, 'log', '-1', '--format=%B', 'main');
    expect(message.split('\n')[0]).toBe('promote web to dev: 01234567');
    const trailers = await git(gitops.bare, 'log', '-1', '--format=%(trailers:only,unfold)', 'main');
    expect(trailers.trim().split('\n')).toEqual([
      'Hoist-App: web',
      'Hoist-Env: dev',
      'Hoist-Tag: 01234567',
      `Hoist-Promotion: ${body.promotions[0]!.id}`,
      'Hoist-Source: https://gitlab.example.com/group/web/-/pipelines/4242',
    ]);

    const diff = await git(gitops.bare, 'diff', '--unified=0', 'main~1', 'main');
    expect(diff.match(/^diff --git .*/gm)).toEqual(['diff --git a/overlays/dev/kustomization.yaml b/overlays/dev/kustomization.yaml']);
    const changed = diff.split('\n').filter((l) => /^[-+](?![-+])/.test(l));
    expect(changed).toEqual(['-    newTag: "0.1.0"', '+    newTag: "01234567"']);

    const clone = await gitops.clone();
    expect(await renderedImages(join(clone, 'overlays/dev'))).toEqual(['registry.example.com/group/web:01234567']);
    expect(await renderedImages(join(clone, 'overlays/staging'))).toEqual(['registry.example.com/group/web:0.1.0']);

    const envs = await hoist.app.request('/api/environments', { headers: apiHeaders });
    expect(envs.status).toBe(200);
    const view = (await envs.json()) as { commit: string; environments: Array<{ name: string; apps: Array<{ app: string; tag: string }> }> };
    expect(view.commit).toBe(head);
    expect(view.environments.map((e) => [e.name, e.apps[0]?.tag])).toEqual([['dev', '01234567'], ['staging', '0.1.0'], ['prod', '0.1.0']]);
  });

  it('answers a redelivery with the same promotion and makes no second commit', async () => {
    const event = await pipelineEvent({ sha: 'feedfacecafebeef0000000000000000deadbeef', id: 77 });
    const headers = { 'Idempotency-Key': 'b6e0c3b4-9d0f-4b7e-9b7a-000000000077' };
    const first = (await (await hoist.app.request('/webhooks/gitlab', webhookRequest(event, headers))).json()) as { promotions: Array<{ id: string }> };
    await settled(hoist, first.promotions[0]!.id);
    const again = await hoist.app.request('/webhooks/gitlab', webhookRequest(event, headers));
    expect(again.status).toBe(202);
    const second = (await again.json()) as { promotions: Array<{ id: string }> };
    expect(second.promotions[0]!.id).toBe(first.promotions[0]!.id);
    expect((await settled(hoist, second.promotions[0]!.id)).state).toBe('committed');
    expect(Number((await git(gitops.bare, 'rev-list', '--count', 'main')).trim())).toBe(2);
  });

  it('skips a promotion to the tag the environment already runs, without a commit', async () => {
    const event = await pipelineEvent({ sha: '1111111122222222333333334444444455555555', id: 80 });
    const first = (await (await hoist.app.request('/webhooks/gitlab', webhookRequest(event))).json()) as { promotions: Array<{ id: string }> };
    expect((await settled(hoist, first.promotions[0]!.id)).state).toBe('committed');
    const rerun = (await (await hoist.app.request('/webhooks/gitlab', webhookRequest({ ...event }))).json()) as { promotions: Array<{ id: string }> };
    const final = await settled(hoist, rerun.promotions[0]!.id);
    expect(final).toMatchObject({ state: 'skipped', reason: expect.stringContaining('already runs') });
    expect(Number((await git(gitops.bare, 'rev-list', '--count', 'main')).trim())).toBe(2);
  });
});

describe('rejected and ignored deliveries change nothing', () => {
  let gitops: TempGitops;
  let hoist: TestHoist;
  let head: string;

  beforeAll(async () => {
    gitops = await createTempGitops();
    hoist = await startTestHoist(testConfigText(gitops.url));
    head = await git(gitops.bare, 'rev-parse', 'main');
  });
  afterAll(async () => {
    await hoist.close();
    await gitops.cleanup();
  });
  afterEach(async () => {
    expect(await git(gitops.bare, 'rev-parse', 'main')).toBe(head);
  });

  it.each([
    ['no token', { 'X-Gitlab-Token': '' }],
    ['a wrong token', { 'X-Gitlab-Token': 'not-the-secret' }],
    ['a token that differs only in length', { 'X-Gitlab-Token': 'test-webhook-secret-and-more' }],
  ])('401 for %s', async (_name, headers) => {
    const res = await hoist.app.request('/webhooks/gitlab', webhookRequest(await pipelineEvent(), headers));
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ code: 'unauthorized' });
  });

  it('400 for a body that is not JSON, an empty body, and a payload missing the fields used', async () => {
    const bad = await hoist.app.request('/webhooks/gitlab', webhookRequest('{"object_kind": "pipeline",'));
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toMatch(/not valid JSON/);
    expect((await hoist.app.request('/webhooks/gitlab', webhookRequest(''))).status).toBe(400);
    const event = await pipelineEvent();
    const missing = await hoist.app.request('/webhooks/gitlab', webhookRequest({ ...event, project: { name: 'web' } }));
    expect(missing.status).toBe(400);
    expect(((await missing.json()) as { error: string }).error).toMatch(/project\.path_with_namespace/);
  });

  it('413 for a body over 1 MiB, streamed without Content-Length', async () => {
    const big = JSON.stringify({ ...(await pipelineEvent()), padding: 'x'.repeat(1024 * 1024) });
    const stream = new ReadableStream({
      start(controller) {
        for (let i = 0; i < big.length; i += 64 * 1024) controller.enqueue(new TextEncoder().encode(big.slice(i, i + 64 * 1024)));
        controller.close();
      },
    });
    const res = await hoist.app.request('/webhooks/gitlab', { ...webhookRequest(''), body: stream, duplex: 'half' } as RequestInit);
    expect(res.status).toBe(413);
    const withLength = await hoist.app.request('/webhooks/gitlab', { ...webhookRequest(big), headers: { ...(webhookRequest('').headers as Record<string, string>), 'Content-Length': String(big.length) } });
    expect(withLength.status).toBe(413);
  });

  it.each([
    ['a failed pipeline', { status: 'failed' }, /status is "failed"/],
    ['a running pipeline', { status: 'running' }, /status is "running"/],
    ['an unknown project', { project: 'other/thing' }, /project "other\/thing" is not configured/],
    ['a branch that is not configured', { ref: 'feature/x' }, /branch "feature\/x" is not configured/],
    ['a merge-request pipeline', { source: 'merge_request_event' }, /merge request pipelines are not promoted/],
  ])('200 ignored for %s', async (_name, overrides, reason) => {
    const res = await hoist.app.request('/webhooks/gitlab', webhookRequest(await pipelineEvent(overrides)));
    expect(res.status).toBe(200);
    expect(((await res.json()) as { ignored: string }).ignored).toMatch(reason);
  });

  it('200 ignored for GitLab events other than Pipeline Hook, and for the documented sample as is (an MR pipeline of another project)', async () => {
    const push = await hoist.app.request('/webhooks/gitlab', webhookRequest(await pipelineEvent(), { 'X-Gitlab-Event': 'Push Hook' }));
    expect(push.status).toBe(200);
    expect(await push.json()).toEqual({ ignored: 'event "Push Hook" is not a Pipeline Hook' });
    const sample = JSON.parse(await readFile(join(import.meta.dirname, '../fixtures/gitlab/pipeline-event.json'), 'utf8')) as unknown;
    const res = await hoist.app.request('/webhooks/gitlab', webhookRequest(sample));
    expect(res.status).toBe(200);
  });

  it('415 for a body that is not declared as JSON', async () => {
    const res = await hoist.app.request('/webhooks/gitlab', { ...webhookRequest(await pipelineEvent()), headers: { 'X-Gitlab-Token': 'test-webhook-secret', 'X-Gitlab-Event': 'Pipeline Hook', 'Content-Type': 'text/plain' } });
    expect(res.status).toBe(415);
  });

  it('API routes need the bearer token', async () => {
    expect((await hoist.app.request('/api/environments')).status).toBe(401);
    expect((await hoist.app.request('/api/environments', { headers: { Authorization: 'Bearer nope' } })).status).toBe(401);
    const missing = await hoist.app.request('/api/promotions/p-000000000000000000000000', { headers: apiHeaders });
    expect(missing.status).toBe(404);
  });

  it('healthz answers and readyz checks Redis and the GitOps remote', async () => {
    expect((await hoist.app.request('/healthz')).status).toBe(200);
    const ready = await hoist.app.request('/readyz');
    expect(ready.status).toBe(200);
    // The suite's redis-server keeps nothing on disk: ready all the same, with the warning that says so.
    expect(await ready.json()).toEqual({
      status: 'ready',
      checks: { redis: 'ok', gitops: 'ok' },
      warnings: [{ check: 'redis', risk: 'no_persistence', message: expect.stringMatching(/lost on a Redis restart/) }],
    });
  });
});

describe('readiness and failures that name their cause', () => {
  it('readyz is 503 with a reason when the GitOps remote is missing', async () => {
    const hoist = await startTestHoist(testConfigText('file:///nonexistent/hoist/gitops.git'), { role: 'web' });
    try {
      const res = await hoist.app.request('/readyz');
      expect(res.status).toBe(503);
      const body = (await res.json()) as { checks: Record<string, string> };
      expect(body.checks.redis).toBe('ok');
      expect(body.checks.gitops).toMatch(/GitOps remote/);
    } finally {
      await hoist.close();
    }
  });

  it('fails a promotion whose image no container uses, and pushes nothing', async () => {
    const gitops = await createTempGitops();
    const extra = `  - name: api
    project: group/api
    image: registry.example.com/group/api
`;
    const hoist = await startTestHoist(testConfigText(gitops.url, extra));
    try {
      const head = await git(gitops.bare, 'rev-parse', 'main');
      const res = await hoist.app.request('/webhooks/gitlab', webhookRequest(await pipelineEvent({ project: 'group/api' })));
      expect(res.status).toBe(202);
      const { promotions } = (await res.json()) as { promotions: Array<{ id: string }> };
      const final = await settled(hoist, promotions[0]!.id);
      expect(final.state).toBe('failed');
      expect(final.error).toMatch(/registry\.example\.com\/group\/api:a1b2c3d4/);
      expect(await git(gitops.bare, 'rev-parse', 'main')).toBe(head);
    } finally {
      await hoist.close();
      await gitops.cleanup();
    }
  });
});

describe('metrics', () => {
  it('GET /metrics shows webhooks by outcome, promotions by result, their duration, queue depth and process metrics', async () => {
    const gitops = await createTempGitops();
    const hoist = await startTestHoist(testConfigText(gitops.url));
    try {
      const res = await hoist.app.request('/webhooks/gitlab', webhookRequest(await pipelineEvent({ id: 31337 })));
      await settled(hoist, ((await res.json()) as { promotions: Array<{ id: string }> }).promotions[0]!.id);
      await hoist.app.request('/webhooks/gitlab', webhookRequest(await pipelineEvent({ status: 'failed' })));
      await hoist.app.request('/webhooks/gitlab', webhookRequest(await pipelineEvent(), { 'X-Gitlab-Token': 'wrong' }));
      const metrics = await hoist.app.request('/metrics');
      expect(metrics.status).toBe(200);
      expect(metrics.headers.get('content-type')).toMatch(/^text\/plain/);
      // The job completes a moment after its promotion's state is stored: scrape until it shows.
      const text = await waitFor(async () => {
        const body = await (await hoist.app.request('/metrics')).text();
        return /hoist_queue_jobs\{queue="hoist-promotions",state="completed"\} 1/.test(body) ? body : undefined;
      }, 'the completed job in /metrics');
      expect(text).toContain('hoist_webhooks_total{source="gitlab",outcome="accepted"} 1');
      expect(text).toContain('hoist_webhooks_total{source="gitlab",outcome="ignored"} 1');
      expect(text).toContain('hoist_webhooks_total{source="gitlab",outcome="rejected"} 1');
      expect(text).toContain('hoist_promotions_total{env="dev",result="committed"} 1');
      expect(text).toMatch(/hoist_promotion_duration_seconds_count\{env="dev"\} 1/);
      expect(text).toMatch(/hoist_queue_jobs\{queue="hoist-promotions",state="completed"\} 1/);
      expect(text).toContain('hoist_push_retries_total 0');
      expect(text).toMatch(/process_resident_memory_bytes \d+/);
    } finally {
      await hoist.close();
      await gitops.cleanup();
    }
  });
});
