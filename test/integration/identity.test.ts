import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSyntheticGitops, type TempGitops } from '../helpers/git-repos.js';
import { API_TOKEN, pipelineEvent, settled, startTestHoist, type TestHoist, WEBHOOK_SECRET, webhookRequest } from '../helpers/hoist.js';

function config(url: string, api = '', auth = 'auth: { demo: true, publicUrl: "http://127.0.0.1:8080", sessionTtl: 1m }'): string {
  return `gitops: { url: "${url}", branch: main }
gitlab: { webhookSecret: ${WEBHOOK_SECRET} }
api: { token: ${API_TOKEN}${api} }
${auth}
environments:
  - { name: dev, path: overlays/dev, promotion: auto }
  - { name: prod, path: overlays/prod, from: dev, promotion: manual }
rbac: { promote: { prod: [alice, bob], "*": ["*"] } }
apps:
  - { name: web, project: group/web, image: registry.example.com/group/web, tag: "v$CI_PIPELINE_ID" }
`;
}

const ORIGIN = 'http://127.0.0.1:8080';

describe('identity: sessions, CSRF, personal tokens, the robot user', () => {
  let gitops: TempGitops;
  let hoist: TestHoist;
  let clock = Date.now();
  beforeEach(async () => {
    gitops = await createSyntheticGitops(['web']);
    clock = Date.now();
  });
  afterEach(async () => {
    await hoist.close();
    await gitops.cleanup();
  });

  /** Signs in through the demo's form, as a browser would; returns the session cookie. */
  async function signIn(name: string): Promise<{ cookie: string; setCookie: string }> {
    const res = await hoist.app.request(`${ORIGIN}/auth/demo`, { method: 'POST', headers: { Origin: ORIGIN, 'Content-Type': 'application/x-www-form-urlencoded' }, body: `name=${name}&return=/` });
    expect(res.status).toBe(303);
    const setCookie = res.headers.get('set-cookie') ?? '';
    return { cookie: setCookie.split(';')[0] as string, setCookie };
  }
  const me = async (headers: Record<string, string>) => hoist.app.request('/api/me', { headers });

  it('a session cookie is HttpOnly, SameSite=Lax and expires; it identifies the person; a board POST without the CSRF token is 403', async () => {
    hoist = await startTestHoist(config(gitops.url));
    const { cookie, setCookie } = await signIn('alice');
    expect(setCookie).toMatch(/^hoist_session=/);
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Lax/);
    expect(setCookie).toMatch(/Expires=/);
    expect(setCookie).not.toMatch(/Secure/); // http://127.0.0.1: no Secure, or the browser would never send it
    const who = (await (await me({ Cookie: cookie })).json()) as { user: string; via: string; csrf: string };
    expect(who).toMatchObject({ user: 'alice', via: 'session' });
    const noCsrf = await hoist.app.request('/api/tokens', { method: 'POST', headers: { Cookie: cookie, 'Content-Type': 'application/json' }, body: JSON.stringify({ name: 'laptop' }) });
    expect(noCsrf.status).toBe(403);
    expect(((await noCsrf.json()) as { error: string }).error).toMatch(/CSRF/);
    const wrong = await hoist.app.request('/api/tokens', { method: 'POST', headers: { Cookie: cookie, 'X-CSRF-Token': 'nope', 'Content-Type': 'application/json' }, body: JSON.stringify({ name: 'laptop' }) });
    expect(wrong.status).toBe(403);
    const made = await hoist.app.request('/api/tokens', { method: 'POST', headers: { Cookie: cookie, 'X-CSRF-Token': who.csrf, 'Content-Type': 'application/json' }, body: JSON.stringify({ name: 'laptop' }) });
    expect(made.status).toBe(201);
    // A tampered cookie is no session.
    expect((await me({ Cookie: `${cookie.slice(0, -3)}AAA` })).status).toBe(401);
    // Signing out ends the session everywhere at once.
    expect((await hoist.app.request('/auth/logout', { method: 'POST', headers: { Cookie: cookie, 'X-CSRF-Token': who.csrf } })).status).toBe(303);
    expect((await me({ Cookie: cookie })).status).toBe(401);
  });

  it('a personal token acts as its person, is shown once and stored hashed, and stops working at once when revoked', async () => {
    hoist = await startTestHoist(config(gitops.url));
    const { cookie } = await signIn('bob');
    const csrf = ((await (await me({ Cookie: cookie })).json()) as { csrf: string }).csrf;
    const made = (await (await hoist.app.request('/api/tokens', { method: 'POST', headers: { Cookie: cookie, 'X-CSRF-Token': csrf, 'Content-Type': 'application/json' }, body: JSON.stringify({ name: 'ci', expiresInDays: 30 }) })).json()) as { token: string; id: string; expiresAt: string };
    expect(made.token).toMatch(/^hoist_pat_/);
    expect(Date.parse(made.expiresAt)).toBeGreaterThan(Date.now() + 29 * 86_400_000);
    const bearer = { Authorization: `Bearer ${made.token}` };
    expect(await (await me(bearer)).json()).toMatchObject({ user: 'bob', via: 'token' });
    const listed = (await (await hoist.app.request('/api/tokens', { headers: bearer })).json()) as { tokens: Array<Record<string, unknown>> };
    expect(listed.tokens).toEqual([{ id: made.id, name: 'ci', createdAt: expect.any(String), expiresAt: made.expiresAt }]);
    expect(JSON.stringify(listed)).not.toContain(made.token);
    // Acts as bob: rbac lets bob into prod; the promotion records him.
    const hook = await hoist.app.request('/webhooks/gitlab', webhookRequest(await pipelineEvent({ project: 'group/web', id: 7 })));
    await settled(hoist, ((await hook.json()) as { promotions: Array<{ id: string }> }).promotions[0]!.id);
    const res = await hoist.app.request('/api/promotions', { method: 'POST', headers: { ...bearer, 'Content-Type': 'application/json' }, body: JSON.stringify({ app: 'web', env: 'prod' }) });
    expect(res.status).toBe(202);
    expect(await settled(hoist, ((await res.json()) as { id: string }).id)).toMatchObject({ state: 'committed', requestedBy: 'bob', tag: 'v7' });
    // No token in Redis in the clear.
    const redis = (await import('ioredis')).Redis;
    const client = new redis((await import('vitest')).inject('redisUrl'));
    const keys = await client.keys(`${hoist.prefix}:*`);
    for (const key of keys) {
      const type = await client.type(key);
      const value = type === 'string' ? await client.get(key) : type === 'hash' ? JSON.stringify(await client.hgetall(key)) : '';
      expect(value ?? '').not.toContain(made.token);
    }
    client.disconnect();
    expect((await hoist.app.request(`/api/tokens/${made.id}`, { method: 'DELETE', headers: bearer })).status).toBe(204);
    const after = await me(bearer);
    expect(after.status).toBe(401);
    expect(((await after.json()) as { error: string }).error).toMatch(/revoked, expired or mistyped/);
  });

  it('api.token is the robot user `api`; X-Hoist-User counts only with api.trustUserHeader', async () => {
    hoist = await startTestHoist(config(gitops.url, '', ''));
    const robot = await me({ Authorization: `Bearer ${API_TOKEN}`, 'X-Hoist-User': 'alice' });
    expect(await robot.json()).toMatchObject({ user: 'api', via: 'robot' });
    const refused = await hoist.app.request('/api/promotions', { method: 'POST', headers: { Authorization: `Bearer ${API_TOKEN}`, 'X-Hoist-User': 'alice', 'Content-Type': 'application/json' }, body: JSON.stringify({ app: 'web', env: 'prod', tag: '0.0.0' }) });
    expect(((await refused.json()) as { error: string }).error).toMatch(/api is not allowed to promote to prod/);
    // The robot makes no personal tokens.
    expect((await hoist.app.request('/api/tokens', { method: 'POST', headers: { Authorization: `Bearer ${API_TOKEN}`, 'Content-Type': 'application/json' }, body: '{"name":"x"}' })).status).toBe(403);
    await hoist.close();
    hoist = await startTestHoist(config(gitops.url, ', trustUserHeader: true'));
    const asAlice = { Authorization: `Bearer ${API_TOKEN}`, 'X-Hoist-User': 'alice' };
    expect(await (await me(asAlice)).json()).toMatchObject({ user: 'alice', via: 'robot' });
    // Naming a person with the robot's token makes no token for them either, through the API or the board's form.
    expect((await hoist.app.request('/api/tokens', { method: 'POST', headers: { ...asAlice, 'Content-Type': 'application/json' }, body: '{"name":"x"}' })).status).toBe(403);
    const form = await hoist.app.request(`${ORIGIN}/board/tokens`, { method: 'POST', headers: { ...asAlice, 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'name=x' });
    expect(form.status).not.toBe(201);
    expect(await form.text()).not.toMatch(/hoist_pat_|shown once/i);
    const { cookie } = await signIn('alice');
    expect(((await (await hoist.app.request('/api/tokens', { headers: { Cookie: cookie } })).json()) as { tokens: unknown[] }).tokens).toEqual([]);
  });

  it('an expired session is no session', async () => {
    hoist = await startTestHoist(config(gitops.url), { now: () => new Date(clock) });
    const { cookie } = await signIn('carol');
    expect((await me({ Cookie: cookie })).status).toBe(200);
    clock += 61_000; // sessionTtl: 1m
    expect((await me({ Cookie: cookie })).status).toBe(401);
  });

  it('the demo sign-in refuses a form posted from another site, and never redirects off-site', async () => {
    hoist = await startTestHoist(config(gitops.url));
    const foreign = await hoist.app.request(`${ORIGIN}/auth/demo`, { method: 'POST', headers: { Origin: 'https://evil.example', 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'name=alice' });
    expect(foreign.status).toBe(403);
    const offsite = await hoist.app.request(`${ORIGIN}/auth/demo`, { method: 'POST', headers: { Origin: ORIGIN, 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'name=alice&return=//evil.example/x' });
    expect(offsite.headers.get('location')).toBe('/');
  });

  it('the events stream sends each change once, in order, and resumes after Last-Event-ID', async () => {
    hoist = await startTestHoist(config(gitops.url));
    const auth = { Authorization: `Bearer ${API_TOKEN}` };
    const res = await hoist.app.request('/api/events', { headers: auth });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    const readUntil = async (pattern: RegExp) => {
      while (!pattern.test(text)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`stream ended before ${pattern}: ${text}`);
        text += decoder.decode(value);
      }
    };
    const delivered = await hoist.app.request('/webhooks/gitlab', webhookRequest(await pipelineEvent({ project: 'group/web', id: 8 })));
    const id = ((await delivered.json()) as { promotions: Array<{ id: string }> }).promotions[0]!.id;
    await settled(hoist, id);
    await readUntil(/"state":"committed"/);
    await reader.cancel();
    const events = text.split('\n\n').filter((e) => e.includes('event: promotion'));
    const states = events.map((e) => /"state":"([a-z-]+)"/.exec(e)?.[1]);
    expect(states).toEqual(['queued', 'running', 'committed']);
    const firstId = /^id: (\S+)/m.exec(events[0] as string)?.[1];
    // Reconnecting after the first event gets the rest, and nothing twice.
    const again = await hoist.app.request('/api/events', { headers: { ...auth, 'Last-Event-ID': firstId! } });
    const replay = again.body!.getReader();
    let replayed = '';
    while (!/"state":"committed"/.test(replayed)) replayed += decoder.decode((await replay.read()).value);
    await replay.cancel();
    expect([...replayed.matchAll(/"state":"([a-z-]+)"/g)].map((m) => m[1])).toEqual(['running', 'committed']);
    expect((await hoist.app.request('/api/events', { headers: { ...auth, 'Last-Event-ID': 'x' } })).status).toBe(400);
    expect((await hoist.app.request('/api/events')).status).toBe(401);
  });
});
