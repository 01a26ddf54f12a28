import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSyntheticGitops, git, TEST_GIT_ENV, type TempGitops } from '../helpers/git-repos.js';
import { API_TOKEN, pipelineEvent, settled, startTestHoist, type TestHoist, waitFor, WEBHOOK_SECRET, webhookRequest } from '../helpers/hoist.js';

const ORIGIN = 'http://127.0.0.1:8080';

function config(url: string, auth = `auth: { demo: true, publicUrl: "${ORIGIN}", sessionTtl: 1m }`): string {
  return `gitops: { url: "${url}", branch: main }
gitlab: { webhookSecret: ${WEBHOOK_SECRET} }
api: { token: ${API_TOKEN} }
${auth}
environments:
  - { name: dev, path: overlays/dev, promotion: auto }
  - { name: staging, path: overlays/staging, from: dev, promotion: gated, gates: { soak: 10m } }
  - { name: prod, path: overlays/prod, from: staging, promotion: manual, approvals: { required: 2, approvers: ["*"] } }
apps:
  - { name: web, project: group/web, image: registry.example.com/group/web, tag: "v$CI_PIPELINE_ID" }
`;
}

const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();

describe('the board over HTTP: sign-in, CSRF, tokens, hostile content, CSP', () => {
  let gitops: TempGitops;
  let hoist: TestHoist | undefined;
  let clock = Date.now();
  beforeEach(async () => {
    gitops = await createSyntheticGitops(['web']);
    clock = Date.now();
  });
  afterEach(async () => {
    await hoist?.close();
    hoist = undefined;
    await gitops.cleanup();
  });

  const request = (path: string, init: RequestInit = {}) => hoist!.app.request(`${ORIGIN}${path}`, init);

  /** The demo's "sign in as", as a browser posts it; returns the session cookie and the page's CSRF token. */
  async function signIn(name: string): Promise<{ cookie: string; csrf: string }> {
    const res = await request('/auth/demo', { method: 'POST', headers: { Origin: ORIGIN, 'Content-Type': 'application/x-www-form-urlencoded' }, body: form({ name, return: '/' }) });
    expect(res.status).toBe(303);
    const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0] as string;
    const board = await request('/', { headers: { Cookie: cookie } });
    expect(board.status).toBe(200);
    const csrf = /<meta name="csrf-token" content="([^"]+)"/.exec(await board.text())?.[1];
    expect(csrf).toBeDefined();
    return { cookie, csrf: csrf as string };
  }

  const post = (path: string, cookie: string, fields: Record<string, string>, headers: Record<string, string> = {}) =>
    request(path, { method: 'POST', headers: { Cookie: cookie, 'Content-Type': 'application/x-www-form-urlencoded', ...headers }, body: form(fields) });

  it('sends people to sign-in and back; the sign-in page says anyone can be anyone; every page has the CSP', async () => {
    hoist = await startTestHoist(config(gitops.url));
    const anonymous = await request('/history?app=web&env=prod');
    expect(anonymous.status).toBe(302);
    expect(anonymous.headers.get('location')).toBe(`/auth/login?return=${encodeURIComponent('/history?app=web&env=prod')}`);
    // The demo's /auth/login lands on the board's own sign-in page.
    const login = await request(anonymous.headers.get('location') as string);
    expect(login.headers.get('location')).toBe(`/signin?return=${encodeURIComponent('/history?app=web&env=prod')}`);
    const signin = await request(login.headers.get('location') as string);
    expect(signin.status).toBe(200);
    const html = await signin.text();
    expect(html).toMatch(/anyone can be anyone/);
    expect(html).toMatch(/<form method="post" action="\/auth\/demo"/);
    expect(html).toContain('name="return" value="/history?app=web&amp;env=prod"');

    const { cookie } = await signIn('alice');
    for (const path of ['/', '/history?app=web&env=prod', '/tokens', '/signin', '/board/promote?app=web&env=staging']) {
      const res = await request(path, { headers: { Cookie: cookie } });
      expect(res.status, path).toBe(200);
      const csp = res.headers.get('content-security-policy') ?? '';
      expect(csp, path).toMatch(/script-src 'self'/);
      expect(csp, path).toMatch(/style-src 'self'(;|$)/);
      expect(csp, path).toMatch(/frame-ancestors 'none'/);
      expect(csp, path).not.toMatch(/unsafe-inline/);
      const page = await res.text();
      // Nothing inline for the CSP to have to forbid: no inline script, no style attribute, no handler attribute.
      expect(page, path).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
      expect(page, path).not.toMatch(/\sstyle=|\son[a-z]+=/i);
    }
    const board = await (await request('/', { headers: { Cookie: cookie } })).text();
    expect(board).toMatch(/<table><caption>Environments<\/caption>/);
    expect(board).toMatch(/<section aria-label="Pending"/);
    expect(board).toMatch(/<section aria-label="Recent"/);
    expect(board).toMatch(/<th scope="row"><a href="\/history\?app=web">web<\/a><\/th>/);
    const js = await request('/assets/board.js');
    expect(js.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(await js.text()).toMatch(/EventSource/);
    expect((await request('/assets/board.css')).headers.get('content-type')).toMatch(/^text\/css/);
  });

  it('a board POST without the CSRF token is refused with 403 and changes nothing; with it the act is done', async () => {
    hoist = await startTestHoist(config(gitops.url));
    const { cookie, csrf } = await signIn('alice');
    const without = await post('/board/rollback', cookie, { app: 'web', env: 'dev', return: '/' });
    expect(without.status).toBe(403);
    expect(((await without.json()) as { error: string }).error).toMatch(/CSRF/);
    const wrong = await post('/board/tokens', cookie, { name: 'laptop', _csrf: `${csrf}x` });
    expect(wrong.status).toBe(403);
    const listed = await (await request('/tokens', { headers: { Cookie: cookie } })).text();
    expect(listed).toMatch(/You have no tokens/);
    // The same form with the right token is done: the token exists.
    const right = await post('/board/tokens', cookie, { name: 'laptop', _csrf: csrf });
    expect(right.status).toBe(201);
    expect(((await (await request('/api/tokens', { headers: { Cookie: cookie } })).json()) as { tokens: Array<{ name: string }> }).tokens.map((t) => t.name)).toEqual(['laptop']);
    // With the token: a plain form post acts and comes back with the outcome (here the service's refusal).
    const done = await post('/board/rollback', cookie, { app: 'web', env: 'dev', return: '/?app=web', _csrf: csrf });
    expect(done.status).toBe(303);
    expect(done.headers.get('location')).toBe('/?app=web');
    const flash = (done.headers.get('set-cookie') ?? '').split(';')[0] as string;
    const back = await (await request('/?app=web', { headers: { Cookie: `${cookie}; ${flash}` } })).text();
    expect(back).toMatch(/<div id="alert" role="alert" class="alert">dev&#39;s history holds no earlier tag of web than 0.0.0<\/div>/);
    // The script's fetch gets the API's own answer.
    const json = await post('/board/rollback', cookie, { app: 'web', env: 'dev' }, { 'X-CSRF-Token': csrf, Accept: 'application/json' });
    expect(json.status).toBe(409);
    expect(await json.json()).toMatchObject({ code: 'conflict', error: "dev's history holds no earlier tag of web than 0.0.0" });
  });

  it('a token made on the board acts as its person; revoked on the board, it stops working at once', async () => {
    hoist = await startTestHoist(config(gitops.url));
    const { cookie, csrf } = await signIn('bob');
    const made = await post('/board/tokens', cookie, { name: 'ci <laptop>', expiresInDays: '30', _csrf: csrf });
    expect(made.status).toBe(201);
    const page = await made.text();
    const token = /<code id="new-token">([^<]+)<\/code>/.exec(page)?.[1] as string;
    expect(token).toMatch(/^hoist_pat_/);
    expect(page).toContain('ci &lt;laptop&gt;');
    const me = () => hoist!.app.request('/api/me', { headers: { Authorization: `Bearer ${token}` } });
    expect(await (await me()).json()).toMatchObject({ user: 'bob', via: 'token' });
    // Listed without the token itself, with a Revoke button.
    const listed = await (await request('/tokens', { headers: { Cookie: cookie } })).text();
    expect(listed).not.toContain(token);
    const id = /<input type="hidden" name="id" value="([^"]+)"\/><button type="submit">Revoke<\/button>/.exec(listed)?.[1] as string;
    expect(id).toBeDefined();
    const revoked = await post('/board/tokens/revoke', cookie, { id, _csrf: csrf, return: '/tokens' });
    expect(revoked.status).toBe(303);
    const after = await me();
    expect(after.status).toBe(401);
    expect(((await after.json()) as { error: string }).error).toMatch(/revoked, expired or mistyped/);
  });

  it('an expired session sends the next visit to sign-in, and the live fragment answers 401', async () => {
    hoist = await startTestHoist(config(gitops.url), { now: () => new Date(clock) });
    const { cookie } = await signIn('carol');
    expect((await request('/board/live', { headers: { Cookie: cookie } })).status).toBe(200);
    clock += 61_000; // sessionTtl: 1m
    const expired = await request('/?state=failed', { headers: { Cookie: cookie } });
    expect(expired.status).toBe(302);
    expect(expired.headers.get('location')).toBe(`/auth/login?return=${encodeURIComponent('/?state=failed')}`);
    expect((await request('/board/live', { headers: { Cookie: cookie } })).status).toBe(401);
    // A form posted with the stale session goes to sign-in too, and acts on nothing.
    const posted = await post('/board/promote', cookie, { app: 'web', env: 'staging', return: '/' });
    expect(posted.status).toBe(303);
    expect(posted.headers.get('location')).toBe('/auth/login?return=%2F');
  });

  it('shows an outside commit whose author and message carry markup as text, never as markup', async () => {
    hoist = await startTestHoist(config(gitops.url));
    // git itself strips <> from names: the hostile author is written into the commit object directly.
    const work = await gitops.clone('hostile');
    const overlay = join(work, 'overlays/dev/kustomization.yaml');
    await writeFile(overlay, `# dev\nresources:\n  - ../../base\nimages:\n  - name: registry.example.com/group/web\n    newTag: "6.6.6"\n`);
    await git(work, 'commit', '-q', '-am', 'placeholder');
    const original = await git(work, 'cat-file', 'commit', 'HEAD');
    const hostile = original
      .replace(/^author .*$/m, 'author <script>alert("author")</script><img src=x onerror=alert(1)> <evil@example.invalid> 1764666000 +0000')
      .replace(/\n\nplaceholder\n$/, '\n\n<img src=x onerror=alert("subject")> <script>alert(2)</script>\n');
    const commit = execFileSync('git', ['hash-object', '-t', 'commit', '-w', '--literally', '--stdin'], { cwd: work, input: hostile, env: TEST_GIT_ENV }).toString().trim();
    await git(work, 'update-ref', 'refs/heads/main', commit);
    await git(work, 'push', '-q', 'origin', 'main');

    const { cookie } = await signIn('dave');
    for (const path of ['/', '/history?app=web&env=dev', '/board/live']) {
      const html = await (await request(path, { headers: { Cookie: cookie } })).text();
      expect(html, path).not.toMatch(/<script>alert|<img src=x/);
      expect(html, path).toContain('&lt;script&gt;alert(&quot;author&quot;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt; &lt;evil@example.invalid&gt;');
      if (path.startsWith('/history')) {
        expect(html).toContain('&lt;img src=x onerror=alert(&quot;subject&quot;)&gt; &lt;script&gt;alert(2)&lt;/script&gt;');
        expect(html).toMatch(/outside change<\/strong> \(not signed by Hoist/);
      } else {
        expect(html).toMatch(/<span class="outside">outside change by &lt;script&gt;/);
      }
    }
  });

  it('without any auth configured, / says how to configure sign-in', async () => {
    hoist = await startTestHoist(config(gitops.url, ''));
    const res = await request('/');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toMatch(/frame-ancestors 'none'/);
    const html = await res.text();
    expect(html).toMatch(/Sign-in is not configured/);
    expect(html).toMatch(/auth:\n {2}oidc:\n {4}issuer: https:\/\/gitlab\.example\.com/);
    expect(html).toMatch(/\/auth\/callback/);
  });

  it('shows the DORA figures per environment, the same as GET /api/dora', async () => {
    hoist = await startTestHoist(config(gitops.url));
    const res = await hoist.app.request('/webhooks/gitlab', webhookRequest(await pipelineEvent({ project: 'group/web', id: 7 })));
    expect(res.status).toBe(202);
    const [promotion] = ((await res.json()) as { promotions: Array<{ id: string }> }).promotions;
    expect(await settled(hoist, promotion!.id)).toMatchObject({ state: 'committed' });
    const api = async () => (await (await hoist!.app.request('/api/dora?env=dev', { headers: { Authorization: `Bearer ${API_TOKEN}` } })).json()) as { deploymentFrequency: { deployments: number; perDay: number } };
    await waitFor(async () => ((await api()).deploymentFrequency.deployments === 1 ? true : undefined), 'the DORA record of the dev deployment');
    const { cookie } = await signIn('alice');
    const page = await request('/dora?days=7', { headers: { Cookie: cookie } });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('Delivery figures of every app per environment, last 7 days');
    const row = (env: string) => new RegExp(`<th scope="row">${env}</th>(.*?)</tr>`, 's').exec(html)?.[1] ?? '';
    const seven = (await (await hoist.app.request(`/api/dora?env=dev&since=${new Date(Date.now() - 7 * 86_400_000).toISOString()}`, { headers: { Authorization: `Bearer ${API_TOKEN}` } })).json()) as { deploymentFrequency: { perDay: number } };
    expect(row('dev')).toContain('<td>1</td>');
    expect(row('dev')).toContain(`${Math.round(seven.deploymentFrequency.perDay * 100) / 100} per day`);
    // Nothing landed in staging or prod: no deployments, no rates made up from nothing.
    for (const env of ['staging', 'prod']) expect(row(env)).toMatch(/^<td>0<\/td><td>0 per day<\/td><td>—<\/td><td>—<\/td><td>—<\/td>$/);
    expect((await request('/dora?app=nope', { headers: { Cookie: cookie } })).status).toBe(400);
  });
});
