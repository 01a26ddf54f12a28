import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { serve } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closedPort } from '../helpers/failures.js';
import { createSyntheticGitops, git, PROJECT_ROOT, TEST_GIT_ENV, type TempGitops } from '../helpers/git-repos.js';
import { API_TOKEN, pipelineEvent, settled, startTestHoist, type TestHoist, WEBHOOK_SECRET, webhookRequest } from '../helpers/hoist.js';

const TSX_LOADER = pathToFileURL(join(PROJECT_ROOT, 'node_modules/tsx/dist/loader.mjs')).href;
const CLI = join(PROJECT_ROOT, 'src/cli/hoist.ts');

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

interface RunningCli {
  /** Resolves once stdout matches, with the match; rejects if the process ends first. */
  waitForOutput(pattern: RegExp): Promise<RegExpMatchArray>;
  result: Promise<CliResult>;
}

/** The real bin in a process of its own, as a person or a pipeline runs it: only the environment given. */
function startCli(args: readonly string[], env: Record<string, string>, input?: string): RunningCli {
  const child = spawn(process.execPath, ['--import', TSX_LOADER, CLI, ...args], {
    cwd: PROJECT_ROOT,
    env: { ...TEST_GIT_ENV, ...env },
    stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  if (input !== undefined) child.stdin?.end(input);
  let stdout = '';
  let stderr = '';
  const waiters: Array<{ pattern: RegExp; resolve: (m: RegExpMatchArray) => void }> = [];
  child.stdout?.on('data', (d: Buffer) => {
    stdout += d.toString();
    for (const w of waiters.splice(0)) {
      const match = stdout.match(w.pattern);
      if (match) w.resolve(match);
      else waiters.push(w);
    }
  });
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const result = new Promise<CliResult>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
  return {
    result,
    waitForOutput: (pattern) =>
      new Promise((resolve, reject) => {
        const match = stdout.match(pattern);
        if (match) return resolve(match);
        waiters.push({ pattern, resolve });
        void result.then((r) => reject(new Error(`hoist ${args.join(' ')} exited ${r.code} before printing ${pattern}:\n${r.stdout}\n${r.stderr}`)));
      }),
  };
}

const hoistCli = (args: readonly string[], env: Record<string, string>, input?: string) => startCli(args, env, input).result;

const config = (url: string, publicUrl: string) => `gitops: { url: "${url}", branch: main }
gitlab: { webhookSecret: ${WEBHOOK_SECRET} }
api: { token: ${API_TOKEN} }
auth: { demo: true, publicUrl: "${publicUrl}" }
environments:
  - { name: dev, path: overlays/dev, promotion: auto }
  - name: staging
    path: overlays/staging
    from: dev
    promotion: manual
    gates: { soak: 10m }
  - name: prod
    path: overlays/prod
    from: staging
    promotion: manual
    approvals: { required: 2, approvers: [alice, bob, carol, dave], allowSelfApproval: false }
rbac: { promote: { prod: [alice, bob], "*": ["*"] } }
apps:
  - { name: web, project: group/web, image: registry.example.com/group/web, tag: "v$CI_PIPELINE_ID" }
  - { name: api, project: group/api, image: registry.example.com/group/api, tag: "v$CI_PIPELINE_ID" }
queue: { gateInterval: 200ms }
`;

describe('the hoist CLI against a real Hoist', () => {
  let gitops: TempGitops;
  let hoist: TestHoist;
  let server: Server;
  let url: string;
  let tmp: string;
  let offsetMs = 0;
  const tokens: Record<string, string> = {};

  /** A pipeline's environment: HOIST_URL and HOIST_TOKEN, and a config dir with nothing saved in it. */
  const as = (user: string): Record<string, string> => ({ HOME: tmp, XDG_CONFIG_HOME: join(tmp, 'empty'), HOIST_URL: url, HOIST_TOKEN: tokens[user] as string });
  const tagIn = async (env: string) => /newTag: "([^"]+)"/.exec(await git(gitops.bare, 'show', `main:overlays/${env}/kustomization.yaml`))?.[1];

  /** Signs in on the demo's form as a browser does, then makes a personal token on the session, as /tokens does. */
  async function personalToken(name: string): Promise<string> {
    const signIn = await fetch(`${url}/auth/demo`, { method: 'POST', headers: { Origin: url, 'Content-Type': 'application/x-www-form-urlencoded' }, body: `name=${name}`, redirect: 'manual' });
    expect(signIn.status).toBe(303);
    const cookie = (signIn.headers.get('set-cookie') ?? '').split(';')[0] as string;
    const { csrf } = (await (await fetch(`${url}/api/me`, { headers: { Cookie: cookie } })).json()) as { csrf: string };
    const made = await fetch(`${url}/api/tokens`, { method: 'POST', headers: { Cookie: cookie, 'X-CSRF-Token': csrf, 'Content-Type': 'application/json' }, body: JSON.stringify({ name: 'cli' }) });
    expect(made.status).toBe(201);
    return ((await made.json()) as { token: string }).token;
  }

  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'hoist-cli-'));
    gitops = await createSyntheticGitops(['web', 'api']);
    // The server first, so the config can name its real address as auth.publicUrl.
    server = serve({ fetch: (req, env) => hoist.app.fetch(req, env), port: 0, hostname: '127.0.0.1' }) as Server;
    if (!server.listening) await once(server, 'listening');
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    hoist = await startTestHoist(config(gitops.url, url), { now: () => new Date(Date.now() + offsetMs) });
    for (const user of ['alice', 'bob', 'carol', 'dave', 'eve']) tokens[user] = await personalToken(user);
  });
  afterAll(async () => {
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    await hoist?.close();
    await gitops?.cleanup();
    await rm(tmp, { recursive: true, force: true });
  });

  it('login checks the token and saves it 0600 in a 0700 dir; HOIST_URL and HOIST_TOKEN override the saved login', async () => {
    const home = { HOME: tmp, XDG_CONFIG_HOME: join(tmp, 'alice-config') };
    const file = join(tmp, 'alice-config', 'hoist', 'config.json');
    const login = await hoistCli(['login', '--url', `${url}/`, '--token', tokens.eve as string], home);
    expect(login.stderr).toBe('');
    expect(login.stdout).toBe(`Logged in to ${url} as eve; saved in ${file}\n`);
    expect(login.code).toBe(0);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(join(tmp, 'alice-config', 'hoist'))).mode & 0o777).toBe(0o700);
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({ url, token: tokens.eve });

    // The saved login is used: eve may not promote to prod, and the preview says so.
    const saved = await hoistCli(['diff', 'web', 'prod'], home);
    expect(saved.stderr).toMatch(/^hoist: refused: eve is not allowed to promote to prod/m);
    expect(saved.code).toBe(1);
    // HOIST_TOKEN wins over the file: alice may, so the refusal is now only that prod already runs it.
    const overridden = await hoistCli(['diff', 'web', 'prod'], { ...home, HOIST_TOKEN: tokens.alice as string });
    expect(overridden.stderr).toMatch(/^hoist: refused: prod already runs web:0\.0\.0$/m);
    expect(overridden.stderr).not.toMatch(/eve/);
    const wrong = await hoistCli(['status'], { ...home, HOIST_TOKEN: 'hoist_pat_wrong' });
    expect(wrong.stderr).toMatch(/^hoist: .*revoked, expired or mistyped.*\(check the token: `hoist login`, or HOIST_TOKEN\)$/m);
    expect(wrong.code).toBe(1);
    // HOIST_URL naming another Hoist never gets the saved token.
    const elsewhere = `http://127.0.0.1:${await closedPort()}`;
    const noToken = await hoistCli(['status'], { ...home, HOIST_URL: elsewhere });
    expect(noToken.stderr).toBe(`hoist: no token for ${elsewhere} (the saved login is for ${url}): set HOIST_TOKEN, or run \`hoist login --url ${elsewhere}\`\n`);
    expect(noToken.code).toBe(2);

    // A token piped on stdin; a token Hoist refuses changes nothing on disk.
    const piped = await hoistCli(['login', '--url', url], home, `${tokens.alice}\n`);
    expect(piped.stdout).toBe(`Logged in to ${url} as alice; saved in ${file}\n`);
    const refused = await hoistCli(['login', '--url', url, '--token', 'hoist_pat_nope'], home);
    expect(refused.stderr).toMatch(new RegExp(`^hoist: ${url.replace(/\./g, '\\.')} does not accept that token: `));
    expect(refused.code).toBe(1);
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({ url, token: tokens.alice });
    const json = await hoistCli(['login', '--json'], home, tokens.alice);
    expect(JSON.parse(json.stdout)).toEqual({ url, user: 'alice', groups: [], via: 'token', configFile: file });
    const nothing = await hoistCli(['status'], { HOME: tmp, XDG_CONFIG_HOME: join(tmp, 'nobody') });
    expect(nothing.stderr).toBe('hoist: not logged in: run `hoist login --url <Hoist URL>`, or set HOIST_URL and HOIST_TOKEN\n');
    expect(nothing.code).toBe(2);
  });

  it('exits 2 on a usage error and 3 when Hoist cannot be reached (refused connection, a 503 answer)', async () => {
    const usage = await hoistCli(['promote', 'web'], as('alice'));
    expect(usage.stderr).toMatch(/^hoist: missing required argument 'env'\n/);
    expect(usage.stdout).toBe('');
    expect(usage.code).toBe(2);
    for (const args of [['frobnicate'], ['promote', 'web', 'prod', '--bogus'], ['promote', 'Web', 'prod'], ['approve', '../x'], ['promote', 'web', 'prod', '--tag', '-rc1'], []]) {
      const result = await hoistCli(args, as('alice'));
      expect({ args, code: result.code, stdout: result.stdout }).toEqual({ args, code: 2, stdout: '' });
      expect(result.stderr).toMatch(/^hoist: /);
    }
    const help = await hoistCli(['promote', '--help'], {});
    expect(help.stdout).toMatch(/^Usage: hoist promote \[options\] <apps> <env>/);
    expect(help.stdout).toMatch(/Examples:\n {2}\$ hoist promote web staging\n/);
    expect(help.code).toBe(0);

    const dead = `http://127.0.0.1:${await closedPort()}`;
    const refused = await hoistCli(['status'], { ...as('alice'), HOIST_URL: dead });
    expect(refused.stderr).toBe(`hoist: cannot reach Hoist at ${dead}: connection refused (ECONNREFUSED)\n`);
    expect(refused.code).toBe(3);
    const refusedJson = await hoistCli(['promote', 'web', 'prod', '--json'], { ...as('alice'), HOIST_URL: dead });
    expect(JSON.parse(refusedJson.stdout)).toEqual({ error: `cannot reach Hoist at ${dead}: connection refused (ECONNREFUSED)`, code: 'unavailable' });
    expect(refusedJson.code).toBe(3);

    // Hoist up but unable to serve (Redis away): 503 in its error shape.
    const unavailable = createServer((_req, res) => res.writeHead(503, { 'Content-Type': 'application/json', 'Retry-After': '5' }).end('{"error":"Redis is not reachable: connect ECONNREFUSED","code":"unavailable"}'));
    unavailable.listen(0, '127.0.0.1');
    await once(unavailable, 'listening');
    try {
      const busy = `http://127.0.0.1:${(unavailable.address() as AddressInfo).port}`;
      const result = await hoistCli(['approve', 'p-0123'], { ...as('alice'), HOIST_URL: busy });
      expect(result.stderr).toBe(`hoist: Hoist at ${busy} answered 503: Redis is not reachable: connect ECONNREFUSED\n`);
      expect(result.code).toBe(3);
    } finally {
      unavailable.close();
    }
  });

  it('drives a version dev → staging → prod with two approvals and back with a rollback', { timeout: 180_000 }, async () => {
    // The pipeline lands v101 in dev (auto), as GitLab's webhook does.
    const delivered = await hoist.app.request('/webhooks/gitlab', webhookRequest(await pipelineEvent({ project: 'group/web', id: 101 })));
    expect(await settled(hoist, ((await delivered.json()) as { promotions: Array<{ id: string }> }).promotions[0]!.id)).toMatchObject({ state: 'committed' });

    const grid = await hoistCli(['status'], as('alice'));
    expect(grid.code).toBe(0);
    expect(grid.stdout.split('\n').slice(0, 3).map((l) => l.split(/ {2,}/))).toEqual([
      ['APP', 'dev', 'staging', 'prod'],
      ['web', 'v101', '0.0.0 *', '0.0.0'],
      ['api', '0.0.0', '0.0.0', '0.0.0'],
    ]);
    expect(grid.stdout).toMatch(/\n\* its "from" environment runs another tag/);
    expect(grid.stdout).toMatch(/\nPending: nothing\n$/);
    const json = await hoistCli(['status', '--json'], as('alice'));
    expect(JSON.parse(json.stdout)).toMatchObject({ environments: [{ name: 'dev' }, { name: 'staging' }, { name: 'prod' }], cells: expect.arrayContaining([{ env: 'dev', app: 'web', tag: 'v101', digest: null, differs: false, since: expect.any(String), by: expect.any(String), kind: 'pipeline', promotion: expect.any(String) }]), pending: [] });

    const diff = await hoistCli(['diff', 'web', 'staging'], as('alice'));
    expect(diff.stderr).toBe('');
    expect(diff.stdout).toMatch(/^web: 0\.0\.0 → v101 in staging \(manual, from dev\)\nfiles: overlays\/staging\/kustomization\.yaml\n/);
    expect(diff.stdout).toMatch(/^--- overlays\/staging \(before\)\n\+\+\+ overlays\/staging \(after\)\n/m);
    expect(diff.stdout).toMatch(/^- +- image: registry\.example\.com\/group\/web:0\.0\.0\n\+ +- image: registry\.example\.com\/group\/web:v101$/m);
    expect(diff.code).toBe(0);

    // The chain: v101 has never been in staging, so prod is refused, with the reason on stderr.
    const skip = await hoistCli(['promote', 'web', 'prod', '--tag', 'v101'], as('alice'));
    expect(skip.stderr).toBe('hoist: web:v101 has never been in staging; a promotion never skips the chain (promote it to staging first)\n');
    expect(skip.stdout).toBe('');
    expect(skip.code).toBe(1);

    // staging: --wait follows the soak gate until it passes, then the commit.
    const toStaging = startCli(['promote', 'web', 'staging', '--wait'], as('alice'));
    const [, stagingId] = await toStaging.waitForOutput(/^\d\d:\d\d:\d\d {2}(p-[0-9a-f]+) {2}web:v101 → staging {2}waiting \((?:gates not checked yet|gates: soak)\)\n/m);
    await toStaging.waitForOutput(/gate soak: waiting \(soaking: \d+m to go/);
    const pending = await hoistCli(['status'], as('bob'));
    expect(pending.stdout).toMatch(new RegExp(`\\nPending:\\n {2}${stagingId} {2}web:v101 → staging {2}waiting \\(gates: soak\\) {2}soak: soaking: \\d+m to go`));
    offsetMs = 11 * 60_000; // the soak is over
    const staged = await toStaging.result;
    expect(staged.code).toBe(0);
    expect(staged.stdout).toMatch(/ {2}gate soak: passed \(in the source environment for \d+m \(soak 10m\)\)\n/);
    expect(staged.stdout).toMatch(/ {2}committed [0-9a-f]{12}\n$/);
    expect(await tagIn('staging')).toBe('v101');

    // prod: rbac refuses eve, with the reason on stderr and, under --json, the API's error on stdout.
    const eve = await hoistCli(['promote', 'web', 'prod', '--json'], as('eve'));
    expect(eve.stderr).toMatch(/^hoist: eve is not allowed to promote to prod/);
    expect(JSON.parse(eve.stdout)).toMatchObject({ code: 'forbidden', error: expect.stringMatching(/eve is not allowed to promote to prod/) });
    expect(eve.code).toBe(1);

    // alice asks and waits; bob and carol approve with their own tokens; dave watches.
    const toProd = startCli(['promote', 'web', 'prod', '--wait'], as('alice'));
    const [, id] = await toProd.waitForOutput(/^\d\d:\d\d:\d\d {2}(p-[0-9a-f]+) {2}web:v101 → prod {2}awaiting-approval \(0 of 2 approvals, requested by alice\)\n/m);
    const watching = startCli(['watch', id as string], as('dave'));
    await watching.waitForOutput(/awaiting-approval/);
    const self = await hoistCli(['approve', id as string], as('alice'));
    expect(self.stderr).toMatch(/^hoist: alice requested this promotion and cannot approve it/);
    expect(self.code).toBe(1);
    const bob = await hoistCli(['approve', id as string, '--json'], as('bob'));
    expect(bob.code).toBe(0);
    expect(JSON.parse(bob.stdout)).toMatchObject({ id, state: 'awaiting-approval', approvals: { required: 2, given: [{ by: 'bob' }], missing: 1 } });
    await toProd.waitForOutput(/ {2}approved by bob \(1 of 2\)\n/);
    expect(await tagIn('prod')).toBe('0.0.0');
    const carol = await hoistCli(['approve', id as string], as('carol'));
    expect(carol.stdout).toMatch(new RegExp(`^approved ${id} {2}web:v101 → prod {2}(queued|running|committed)`));
    const prod = await toProd.result;
    expect(prod.stderr).toBe('');
    expect(prod.code).toBe(0);
    const lines = prod.stdout.trimEnd().split('\n').map((l) => l.slice(10));
    expect(lines[0]).toBe(`${id}  web:v101 → prod  awaiting-approval (0 of 2 approvals, requested by alice)`);
    expect(lines).toContain('approved by bob (1 of 2)');
    expect(lines).toContain('approved by carol (2 of 2)');
    expect(lines.at(-1)).toMatch(/^committed [0-9a-f]{12}$/);
    expect(await tagIn('prod')).toBe('v101');
    const watched = await watching.result;
    expect(watched.code).toBe(0);
    expect(watched.stdout).toMatch(/approved by carol \(2 of 2\)\n(.*\n)*.* {2}committed [0-9a-f]{12}\n$/);
    const ended = await hoistCli(['watch', id as string, '--json'], as('dave'));
    expect(JSON.parse(ended.stdout)).toMatchObject({ id, state: 'committed', approvals: { given: [{ by: 'bob' }, { by: 'carol' }] } });
    // Under --json the lines a person reads go to stderr: stdout is the one document.
    expect(ended.stderr).toMatch(new RegExp(`^\\d\\d:\\d\\d:\\d\\d {2}${id} {2}web:v101 → prod {2}committed [0-9a-f]{12}\\n\\d\\d:\\d\\d:\\d\\d {2}approved by bob, carol \\(2 of 2\\)\\n$`));
    expect(ended.code).toBe(0);

    // And back: bob rolls prod back to what it ran before.
    const back = await hoistCli(['rollback', 'web', 'prod', '--wait'], as('bob'));
    expect(back.code).toBe(0);
    expect(back.stdout).toMatch(/^\d\d:\d\d:\d\d {2}p-[0-9a-f]+ {2}web:0\.0\.0 → prod {2}(queued|running|committed)/);
    expect(back.stdout).toMatch(/ {2}committed [0-9a-f]{12}\n$/);
    expect(await tagIn('prod')).toBe('0.0.0');

    const history = await hoistCli(['history', 'web', 'prod'], as('alice'));
    expect(history.code).toBe(0);
    const rows = history.stdout.trimEnd().split('\n').map((l) => l.split(/ {2,}/));
    expect(rows[0]).toEqual(['DATE', 'ENV', 'TAG', 'KIND', 'BY', 'PROMOTION', 'COMMIT']);
    expect(rows.slice(1).map((r) => r.slice(1, 5))).toEqual([
      ['prod', '0.0.0', 'rollback', 'bob'],
      ['prod', 'v101', 'manual', 'alice, approved by bob, carol'],
      ['prod', '(none) → 0.0.0', 'outside', 'Test <t@example.invalid>: seed'],
    ]);
    expect(rows[2]?.[5]).toBe(id);

    const one = await hoistCli(['status', 'web'], as('alice'));
    expect(one.stdout.split('\n').slice(0, 4).map((l) => l.split(/ {2,}/))).toEqual([
      ['ENV', 'TAG', 'HEALTH', 'SINCE', 'BY', 'NOTE'],
      ['dev', 'v101', expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:\d\d$/), 'pipeline'],
      ['staging', 'v101', expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:\d\d$/), 'alice (manual)'],
      ['prod', '0.0.0', expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:\d\d$/), 'bob (rollback)', '* staging runs v101'],
    ]);
  });

  it('a cancelled promotion ends its watch with exit 1 and the reason on stderr', { timeout: 60_000 }, async () => {
    const asked = await hoistCli(['promote', 'web', 'prod', '--json'], as('alice'));
    const view = JSON.parse(asked.stdout) as { id: string; state: string };
    expect(view.state).toBe('awaiting-approval');
    expect(asked.stderr).toBe('');
    const watching = startCli(['watch', view.id], as('bob'));
    await watching.waitForOutput(/awaiting-approval/);
    const cancel = await hoistCli(['cancel', view.id], as('alice'));
    expect(cancel.stdout).toBe(`cancelled ${view.id}  web:v101 → prod  cancelled: cancelled by alice via api\n`);
    expect(cancel.code).toBe(0);
    const watched = await watching.result;
    expect(watched.stdout).toMatch(/ {2}cancelled: cancelled by alice via api\n$/);
    expect(watched.stderr).toBe(`hoist: promotion ${view.id} cancelled: cancelled by alice via api\n`);
    expect(watched.code).toBe(1);
    const again = await hoistCli(['cancel', view.id], as('alice'));
    expect(again.stderr).toBe(`hoist: promotion ${view.id} already ended: cancelled\n`);
    expect(again.code).toBe(1);
  });

  it('a pipeline job lands its own build in dev with --tag, as the .gitlab-ci.yml in the README does', async () => {
    const dev = await hoistCli(['promote', 'api', 'dev', '--tag', 'v7', '--wait', '--json'], as('bob'));
    expect(dev.code).toBe(0);
    expect(JSON.parse(dev.stdout)).toMatchObject({ app: 'api', env: 'dev', tag: 'v7', state: 'committed' });
    const overview = JSON.parse((await hoistCli(['status', 'api', '--json'], as('bob'))).stdout) as { cells: Array<{ env: string; tag: string; by: string }> };
    expect(overview.cells.find((c) => c.env === 'dev')).toMatchObject({ tag: 'v7', by: 'bob' });
  });

  it('shows what an outside commit says without letting it drive the terminal', async () => {
    const clone = await gitops.clone();
    const file = join(clone, 'overlays/prod/kustomization.yaml');
    await writeFile(file, `${await readFile(file, 'utf8')}# touched by hand\n`);
    await git(clone, 'commit', '-q', '-am', 'fix\u001b[2J\u001b]0;pwned\u0007 \u202eevil');
    await git(clone, 'push', '-q', 'origin', 'main');
    const history = await hoistCli(['history', 'web', 'prod'], as('alice'));
    expect(history.code).toBe(0);
    // eslint-disable-next-line no-control-regex -- no raw control character may reach the terminal
    expect(history.stdout).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f\u202e]/);
    expect(history.stdout.split('\n')[1]?.split(/ {2,}/).slice(1, 5)).toEqual(['prod', '(1 file)', 'outside', 'Test <t@example.invalid>: fix\\u001b[2J\\u001b]0;pwned\\u0007 \\u202eevil']);
  });
});
