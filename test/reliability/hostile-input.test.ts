import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTempGitops, git, type TempGitops } from '../helpers/git-repos.js';
import { API_TOKEN, WEBHOOK_SECRET, apiHeaders, pipelineEvent, settled, startTestHoist, testConfigText, webhookRequest, type TestHoist } from '../helpers/hoist.js';
import { answerOf, expectError } from '../helpers/answers.js';

// Hostile and broken deliveries: each gets a clear, documented answer, nothing reaches the GitOps branch, and the
// process stays healthy. GitLab disables hooks that keep failing, so "clear 4xx" matters as much as "no 5xx".

const MIB = 1024 * 1024;

// The same image as `web`, but its tag comes straight from a pipeline variable: whatever a pipeline (or someone
// who can start one) puts in EVIL must never reach the kustomization file unless it is a valid OCI tag.
const EVIL_APP = `  - name: evil
    project: group/evil
    image: registry.example.com/group/web
    tag: $EVIL
    branches: [main]
`;


/** A body that arrives in 64 KiB chunks with no Content-Length, as a chunked upload does. */
function streamed(text: string): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.length) {
        controller.close();
        return;
      }
      controller.enqueue(bytes.slice(at, at + 64 * 1024));
      at += 64 * 1024;
    },
  });
}

describe('hostile webhook deliveries', () => {
  let gitops: TempGitops;
  let hoist: TestHoist;
  let head: string;

  const post = async (body: RequestInit['body'], headers: Record<string, string> | Headers = {}, extra: RequestInit = {}) => {
    const base = webhookRequest('');
    const merged = new Headers(base.headers);
    new Headers(headers).forEach((value, key) => merged.set(key, value));
    return answerOf(await hoist.app.request('/webhooks/gitlab', { ...base, headers: merged, body, ...extra }));
  };
  const postJson = async (value: unknown, headers: Record<string, string> = {}) => post(JSON.stringify(value), headers);

  beforeAll(async () => {
    gitops = await createTempGitops();
    hoist = await startTestHoist(testConfigText(gitops.url, EVIL_APP));
    head = await git(gitops.bare, 'rev-parse', 'main');
  });
  afterEach(async () => {
    expect(await git(gitops.bare, 'rev-parse', 'main')).toBe(head);
    const health = await hoist.app.request('/healthz');
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
  });
  afterAll(async () => {
    await hoist?.close();
    // Closing drains the worker: had anything been queued, it would have been committed by now.
    if (gitops && head) expect(await git(gitops.bare, 'rev-parse', 'main')).toBe(head);
    await gitops?.cleanup();
  });

  describe('bodies that are not a JSON pipeline event', () => {
    it.each([
      ['truncated JSON', '{"object_kind": "pipeline",'],
      ['trailing garbage', '{"object_kind": "pipeline"} x'],
      ['single quotes', "{'object_kind': 'pipeline'}"],
      ['NaN', '{"id": NaN}'],
      ['unpaired brackets', ']]]]'],
      ['a lone surrogate escape in an unterminated string', '{"a": "\\ud800'],
    ])('400 for %s, saying it is not valid JSON', async (_label, body) => {
      expectError(await post(body), 400, 'bad_request', /^body is not valid JSON: /);
    });

    it.each([
      ['an empty body', ''],
      ['a body of whitespace', ' \n\t\r\n '],
    ])('400 for %s, saying it is empty', async (_label, body) => {
      expectError(await post(body), 400, 'bad_request', /^empty body: expected a GitLab webhook JSON payload$/);
    });

    it('skips a UTF-8 byte-order mark and reads the JSON after it', async () => {
      const answer = await post(`\uFEFF${JSON.stringify(await pipelineEvent({ project: 'nobody/here' }))}`);
      expect(answer).toEqual({ status: 200, body: { ignored: 'project "nobody/here" is not configured' } });
    });

    it('400 for no body at all', async () => {
      expectError(await post(null), 400, 'bad_request', /^empty body/);
    });

    it.each([
      ['text/plain', 'text/plain'],
      ['form encoding', 'application/x-www-form-urlencoded'],
      ['multipart', 'multipart/form-data; boundary=x'],
      ['a JSON look-alike', 'application/jsonp'],
      ['JSON written as text', 'text/json'],
    ])('415 for %s, naming the content type it got', async (_label, contentType) => {
      const answer = await post(JSON.stringify(await pipelineEvent()), { 'Content-Type': contentType });
      expectError(answer, 415, 'bad_request', /^content type must be application\/json, got /);
      expect(answer.body.error).toContain(`"${contentType}"`);
    });

    it('415 with "none" for a body sent without any Content-Type', async () => {
      const bytes = new TextEncoder().encode(JSON.stringify(await pipelineEvent()));
      const init = webhookRequest('');
      const headers = new Headers(init.headers);
      headers.delete('Content-Type');
      const answer = await answerOf(await hoist.app.request('/webhooks/gitlab', { ...init, headers, body: bytes }));
      expectError(answer, 415, 'bad_request', /got "none"/);
    });

    it('accepts a charset parameter and a different case in the JSON content type', async () => {
      const answer = await postJson(await pipelineEvent({ project: 'nobody/here' }), { 'Content-Type': 'Application/JSON; charset=utf-8' });
      expect(answer).toEqual({ status: 200, body: { ignored: 'project "nobody/here" is not configured' } });
    });

    it('413 for a body over 1 MiB that declares its Content-Length', async () => {
      const big = JSON.stringify({ ...(await pipelineEvent()), padding: 'x'.repeat(MIB) });
      const answer = await post(big, { 'Content-Length': String(Buffer.byteLength(big)) });
      expectError(answer, 413, 'payload_too_large', /larger than 1048576 bytes/);
    });

    it('413 for a body over 1 MiB streamed without Content-Length, even one that would be a valid promotion', async () => {
      const big = JSON.stringify({ ...(await pipelineEvent()), padding: 'x'.repeat(MIB) });
      const answer = await post(streamed(big), {}, { duplex: 'half' } as RequestInit);
      expectError(answer, 413, 'payload_too_large', /larger than 1048576 bytes/);
    });

    it('413 for an over-long body of multi-byte characters whose length in characters is under 1 MiB', async () => {
      // 400k three-byte characters: 1.2 MB on the wire, 400k characters in JavaScript.
      const big = JSON.stringify({ ...(await pipelineEvent({ project: 'nobody/here' })), padding: '\u20ac'.repeat(400_000) });
      expect(big.length).toBeLessThan(MIB);
      const answer = await post(streamed(big), {}, { duplex: 'half' } as RequestInit);
      expectError(answer, 413, 'payload_too_large', /larger than/);
    });

    it('answers a body of exactly 1 MiB normally', async () => {
      const event = JSON.stringify({ ...(await pipelineEvent({ project: 'nobody/here' })), padding: '' });
      const exact = event.replace('"padding":""', `"padding":"${'x'.repeat(MIB - event.length)}"`);
      expect(Buffer.byteLength(exact)).toBe(MIB);
      const answer = await post(streamed(exact), {}, { duplex: 'half' } as RequestInit);
      expect(answer).toEqual({ status: 200, body: { ignored: 'project "nobody/here" is not configured' } });
    });

    it('400 for 100 000 nested arrays, naming the body as the problem', async () => {
      const deep = '['.repeat(100_000) + ']'.repeat(100_000);
      expectError(await post(deep), 400, 'bad_request', /^not a usable Pipeline Hook payload: \(body\): /);
    });

    it('400 for 100 000 nested objects as the pipeline variables, naming object_attributes.variables', async () => {
      const event = await pipelineEvent();
      const deep = '{"a":'.repeat(100_000) + '1' + '}'.repeat(100_000);
      const text = JSON.stringify({ ...event, object_attributes: { ...event.object_attributes, variables: '__DEEP__' } }).replace('"__DEEP__"', deep);
      expect(Buffer.byteLength(text)).toBeLessThan(MIB);
      expectError(await post(text), 400, 'bad_request', /object_attributes\.variables: /);
    });

    it('ignores 100 000 nested objects in a field Hoist does not use, and still reads the rest of the event', async () => {
      const event = await pipelineEvent({ project: 'nobody/here' });
      const deep = '{"a":'.repeat(100_000) + '1' + '}'.repeat(100_000);
      const text = JSON.stringify({ ...event, object_attributes: { ...event.object_attributes, stages: '__DEEP__' } }).replace('"__DEEP__"', deep);
      expect(await post(text)).toEqual({ status: 200, body: { ignored: 'project "nobody/here" is not configured' } });
    });
  });

  describe('events other than a Pipeline Hook', () => {
    it.each([['Push Hook'], ['System Hook'], ['Merge Request Hook'], ['pipeline hook'], ['Pipeline Hooks'], ['Pipeline Hook, Push Hook']])(
      '200 ignored for X-Gitlab-Event "%s", even with a promotable pipeline body',
      async (event) => {
        const answer = await postJson(await pipelineEvent(), { 'X-Gitlab-Event': event });
        expect(answer).toEqual({ status: 200, body: { ignored: `event "${event}" is not a Pipeline Hook` } });
      },
    );

    it('200 ignored when X-Gitlab-Event is missing', async () => {
      const init = webhookRequest(await pipelineEvent());
      const headers = new Headers(init.headers);
      headers.delete('X-Gitlab-Event');
      const answer = await answerOf(await hoist.app.request('/webhooks/gitlab', { ...init, headers }));
      expect(answer).toEqual({ status: 200, body: { ignored: 'event "(no X-Gitlab-Event header)" is not a Pipeline Hook' } });
    });

    it('reads "Pipeline Hook\\n" as "Pipeline Hook": trailing whitespace is not part of an HTTP header value', async () => {
      // Fetch (and Node's HTTP parser) strip leading/trailing whitespace from header values, so this is the same
      // event type; what matters is that the answer is the one the exact value gets.
      const body = await pipelineEvent({ project: 'nobody/here' });
      const exact = await postJson(body);
      expect(await postJson(body, { 'X-Gitlab-Event': 'Pipeline Hook\n' })).toEqual(exact);
      expect(await postJson(body, { 'X-Gitlab-Event': '\tPipeline Hook  ' })).toEqual(exact);
      expect(exact).toEqual({ status: 200, body: { ignored: 'project "nobody/here" is not configured' } });
    });
  });

  describe('pipeline events with missing or mistyped fields', () => {
    type Mutate = (event: Record<string, unknown> & { object_attributes: Record<string, unknown>; project: Record<string, unknown> }) => unknown;
    const cases: Array<[string, Mutate, RegExp]> = [
      ['id as a string', (e) => ({ ...e, object_attributes: { ...e.object_attributes, id: '1000' } }), /object_attributes\.id: /],
      ['id zero', (e) => ({ ...e, object_attributes: { ...e.object_attributes, id: 0 } }), /object_attributes\.id: /],
      ['id fractional', (e) => ({ ...e, object_attributes: { ...e.object_attributes, id: 1.5 } }), /object_attributes\.id: /],
      ['id missing', (e) => ({ ...e, object_attributes: { ...e.object_attributes, id: undefined } }), /object_attributes\.id: /],
      ['sha with a newline', (e) => ({ ...e, object_attributes: { ...e.object_attributes, sha: 'a1b2c3d4e5f6\n' } }), /object_attributes\.sha: must be a commit SHA/],
      ['sha with a shell injection', (e) => ({ ...e, object_attributes: { ...e.object_attributes, sha: 'a1b2c3d; rm -rf /' } }), /object_attributes\.sha: must be a commit SHA/],
      ['sha as a number', (e) => ({ ...e, object_attributes: { ...e.object_attributes, sha: 1234567 } }), /object_attributes\.sha: /],
      ['ref empty', (e) => ({ ...e, object_attributes: { ...e.object_attributes, ref: '' } }), /object_attributes\.ref: /],
      ['ref null', (e) => ({ ...e, object_attributes: { ...e.object_attributes, ref: null } }), /object_attributes\.ref: /],
      ['status missing', (e) => ({ ...e, object_attributes: { ...e.object_attributes, status: undefined } }), /object_attributes\.status: /],
      ['variables not an array', (e) => ({ ...e, object_attributes: { ...e.object_attributes, variables: { EVIL: 'x' } } }), /object_attributes\.variables: /],
      ['a variable without a key', (e) => ({ ...e, object_attributes: { ...e.object_attributes, variables: [{ value: 'x' }] } }), /object_attributes\.variables\.0\.key: /],
      ['a variable value that is an object', (e) => ({ ...e, object_attributes: { ...e.object_attributes, variables: [{ key: 'EVIL', value: { a: 1 } }] } }), /object_attributes\.variables\.0\.value: /],
      ['object_attributes missing', (e) => ({ ...e, object_attributes: undefined }), /object_attributes: /],
      ['object_attributes an array', (e) => ({ ...e, object_attributes: [e.object_attributes] }), /object_attributes: /],
      ['project null', (e) => ({ ...e, project: null }), /project: /],
      ['project a string', (e) => ({ ...e, project: 'group/web' }), /project: /],
      ['project path missing', (e) => ({ ...e, project: { ...e.project, path_with_namespace: undefined } }), /project\.path_with_namespace: /],
      ['project path a number', (e) => ({ ...e, project: { ...e.project, path_with_namespace: 42 } }), /project\.path_with_namespace: /],
      ['object_kind of another event', (e) => ({ ...e, object_kind: 'build' }), /object_kind: /],
      ['merge_request a string', (e) => ({ ...e, merge_request: 'yes' }), /merge_request: /],
      ['the body a JSON array', (e) => [e], /\(body\): /],
      ['the body a JSON string', () => 'pipeline', /\(body\): /],
      ['the body null', () => null, /\(body\): /],
    ];

    it.each(cases)('400 for %s, naming the field', async (_label, mutate, names) => {
      // Built from a promotable event of a configured project: if validation let it through, it would promote.
      const event = (await pipelineEvent()) as Parameters<Mutate>[0];
      expectError(await postJson(mutate(event)), 400, 'bad_request', names);
    });

    it('names several problems at once', async () => {
      const event = await pipelineEvent();
      const answer = await postJson({ ...event, object_attributes: { ...event.object_attributes, id: 'x', sha: 'nope' }, project: null });
      expectError(answer, 400, 'bad_request', /^not a usable Pipeline Hook payload: /);
      for (const field of ['object_attributes.id: ', 'object_attributes.sha: ', 'project: ']) expect(answer.body.error).toContain(field);
    });
  });

  describe('pipeline variables that try to escape through a tag template', () => {
    it.each([
      ['a newline', 'v1\nkind: Secret'],
      ['a carriage return', 'v1\r'],
      ['a double quote', 'v1"x'],
      ['a single quote', "v1'x"],
      ['a comment', 'v1 #x'],
      ['a bare #', 'v1#x'],
      ['a key', 'v1: x'],
      ['an anchor', '&anchor'],
      ['an alias', '*alias'],
      ['an explicit tag', '!!binary'],
      ['a flow map', '{a: b}'],
      ['a Cyrillic look-alike', 'v1.2.3-\u0430lpha'],
      ['a full-width look-alike', '\uff561.2.3'],
      ['a zero-width space', 'v1.2.3\u200b'],
      ['a right-to-left override', 'v1\u202e3.2'],
      ['a path', '../x'],
      ['a registry reference', 'evil.example/x:latest'],
      ['a digest', 'sha256:0123'],
      ['a leading dash', '-rc1'],
      ['a leading dot', '.hidden'],
      ['129 characters', 'a'.repeat(129)],
      ['an empty value', ''],
      ['another variable, which must not be expanded again', '$CI_COMMIT_SHORT_SHA'],
    ])('200 ignored for %s, naming the refused tag', async (_label, value) => {
      const answer = await postJson(await pipelineEvent({ project: 'group/evil', variables: [{ key: 'EVIL', value }] }));
      expect(answer.status, JSON.stringify(answer.body)).toBe(200);
      expect(Object.keys(answer.body)).toEqual(['ignored']);
      const reason = answer.body.ignored as string;
      expect(reason).toMatch(/^app evil: tag template "\$EVIL" gave /);
      expect(reason).toContain(`gave ${JSON.stringify(value)}, which is not a valid image tag`);
    });

    it('a missing variable gives an empty tag, which is refused the same way', async () => {
      const answer = await postJson(await pipelineEvent({ project: 'group/evil', variables: [{ key: 'OTHER', value: 'v1' }] }));
      expect(answer).toEqual({ status: 200, body: { ignored: expect.stringMatching(/^app evil: tag template "\$EVIL" gave "", which is not a valid image tag/) } });
    });

    it('a variable whose value is null gives an empty tag and is refused', async () => {
      const event = await pipelineEvent({ project: 'group/evil' });
      const answer = await postJson({ ...event, object_attributes: { ...event.object_attributes, variables: [{ key: 'EVIL', value: null }] } });
      expect(answer.status).toBe(200);
      expect(answer.body.ignored).toMatch(/gave "", which is not a valid image tag/);
    });

    it('the last of two variables with the same key is the one refused', async () => {
      const answer = await postJson(
        await pipelineEvent({ project: 'group/evil', variables: [{ key: 'EVIL', value: 'v1.0.0' }, { key: 'EVIL', value: 'v1\n' }] }),
      );
      expect(answer.status).toBe(200);
      expect(answer.body.ignored).toContain('gave "v1\\n"');
    });
  });

  describe('webhook tokens', () => {
    const event = () => pipelineEvent(); // promotable: a token check that let it through would queue a promotion

    it.each([
      ['a wrong token', 'not-the-secret'],
      ['a token of a different length', `${WEBHOOK_SECRET}-and-more`],
      ['a prefix of the token', WEBHOOK_SECRET.slice(0, -1)],
      ['the token in another case', WEBHOOK_SECRET.toUpperCase()],
      ['the token with a trailing non-breaking space', `${WEBHOOK_SECRET}\u00a0`],
      ['the token with an inner space', WEBHOOK_SECRET.replace('-', ' -')],
      ['an empty token', ''],
      ['the API token', API_TOKEN],
      ['a bearer-style token', `Bearer ${WEBHOOK_SECRET}`],
    ])('401 for %s', async (_label, token) => {
      const answer = await postJson(await event(), { 'X-Gitlab-Token': token });
      expectError(answer, 401, 'unauthorized', /X-Gitlab-Token/);
    });

    it('401 when the header is missing', async () => {
      const init = webhookRequest(await event());
      const headers = new Headers(init.headers);
      headers.delete('X-Gitlab-Token');
      expectError(await answerOf(await hoist.app.request('/webhooks/gitlab', { ...init, headers })), 401, 'unauthorized', /X-Gitlab-Token/);
    });

    it('401 when X-Gitlab-Token is sent twice, even with the right value both times', async () => {
      const init = webhookRequest(await event());
      const headers = new Headers(init.headers);
      headers.append('X-Gitlab-Token', WEBHOOK_SECRET);
      expect(headers.get('x-gitlab-token')).toBe(`${WEBHOOK_SECRET}, ${WEBHOOK_SECRET}`);
      expectError(await answerOf(await hoist.app.request('/webhooks/gitlab', { ...init, headers })), 401, 'unauthorized', /X-Gitlab-Token/);
    });

    it('401 before anything else is said about the body: no content type or parse details for strangers', async () => {
      const wrong = { 'X-Gitlab-Token': 'nope' };
      expectError(await post('{not json', wrong), 401, 'unauthorized', /X-Gitlab-Token/);
      expectError(await post('{}', { ...wrong, 'Content-Type': 'text/plain' }), 401, 'unauthorized', /X-Gitlab-Token/);
      expectError(await postJson({}, { ...wrong, 'X-Gitlab-Event': 'Push Hook' }), 401, 'unauthorized', /X-Gitlab-Token/);
    });
  });

  describe('promotion ids that try to escape', () => {
    const ids: Array<[string, string]> = [
      ['an encoded path traversal', '..%2F..%2Fetc%2Fpasswd'],
      ['a double-encoded path traversal', '%252e%252e%252fetc%252fpasswd'],
      ['a NUL byte', `p-${'0'.repeat(24)}%00`],
      ['a malformed percent escape', '%E0%A4%A'],
      ['a lone percent sign', '%'],
      ['Cyrillic look-alikes', encodeURIComponent(`p-${'\u0430'.repeat(24)}`)],
      ['an emoji', encodeURIComponent('\ud83d\ude80')],
      ['a redis glob', encodeURIComponent('p-*')],
      ['a redis key separator', encodeURIComponent('p-1:2')],
    ];
    // Longer than any id can be: refused before any look-up (test/reliability/bounded-input.test.ts has the rest).
    const overLong: Array<[string, string]> = [
      ['10 000 characters', 'p'.repeat(10_000)],
      ['10 000 encoded characters', encodeURIComponent('\u0430'.repeat(10_000))],
    ];

    it.each(ids)('404 for %s, with a short JSON answer', async (_label, id) => {
      const answer = await answerOf(await hoist.app.request(`/api/promotions/${id}`, { headers: apiHeaders }));
      expectError(answer, 404, 'not_found', /^no promotion with id "/);
      expect(JSON.stringify(answer.body).length).toBeLessThan(500);
    });

    it.each(overLong)('400 for %s, naming the field and the limit', async (_label, id) => {
      const answer = await answerOf(await hoist.app.request(`/api/promotions/${id}`, { headers: apiHeaders }));
      expect(answer).toEqual({ status: 400, body: { code: 'bad_request', error: 'id: at most 100 characters' } });
    });

    it.each([...ids, ...overLong])('401 without the token for %s', async (_label, id) => {
      expectError(await answerOf(await hoist.app.request(`/api/promotions/${id}`)), 401, 'unauthorized', /bearer token/);
    });

    it.each([['/api/promotions/../../etc/passwd'], ['/api/promotions/../../../../etc/passwd'], ['/api/../etc/passwd'], ['/api/promotions/%2e%2e/%2e%2e/etc/passwd']])(
      '404 for %s, which URL parsing resolves outside /api before any route sees it',
      async (path) => {
        for (const headers of [apiHeaders, {}]) {
          const answer = await answerOf(await hoist.app.request(path, { headers }));
          expectError(answer, 404, 'not_found', /^no route for GET \/etc\/passwd$/);
        }
      },
    );

    it('a valid-looking id that does not exist is 404, and the real API still answers', async () => {
      expectError(await answerOf(await hoist.app.request(`/api/promotions/p-${'0'.repeat(24)}`, { headers: apiHeaders })), 404, 'not_found', /no promotion/);
      const envs = await answerOf(await hoist.app.request('/api/environments', { headers: apiHeaders }));
      expect(envs.status).toBe(200);
      expect(envs.body.commit).toBe(head.trim());
    });
  });
});

describe('an app whose image matches several kustomization entries', () => {
  let gitops: TempGitops;
  let hoist: TestHoist;
  let head: string;

  beforeAll(async () => {
    gitops = await createTempGitops();
    // Someone edits the overlay by hand and leaves the web image listed twice; kustomize would apply only one.
    const clone = await gitops.clone('hand-edit');
    const file = join(clone, 'overlays/dev/kustomization.yaml');
    const text = await readFile(file, 'utf8');
    expect(text).toContain('  - name: registry.example.com/group/web\n    newTag: "0.1.0"\n');
    await writeFile(file, `${text}  - name: registry.example.com/group/web\n    newTag: "0.0.9"\n`);
    await git(clone, 'commit', '-q', '-am', 'list web twice');
    await git(clone, 'push', '-q', 'origin', 'main');
    head = await git(gitops.bare, 'rev-parse', 'main');
    hoist = await startTestHoist(testConfigText(gitops.url));
  });
  afterAll(async () => {
    await hoist?.close();
    await gitops?.cleanup();
  });

  it('fails the promotion naming both entries, and leaves the branch alone', async () => {
    const answer = await answerOf(await hoist.app.request('/webhooks/gitlab', webhookRequest(await pipelineEvent({ id: 501 }))));
    expect(answer.status).toBe(202);
    const promotions = answer.body.promotions as Array<{ id: string; app: string; env: string }>;
    expect(promotions.map((p) => [p.app, p.env])).toEqual([['web', 'dev']]);

    const final = await settled(hoist, promotions[0]!.id);
    expect(final.state).toBe('failed');
    expect(final.error).toMatch(/matches several entries in images \(images\[0\], images\[1\]\)/);
    expect(await git(gitops.bare, 'rev-parse', 'main')).toBe(head);
    expect((await hoist.app.request('/healthz')).status).toBe(200);
  });
});
