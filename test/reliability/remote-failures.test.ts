import { chmod, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { startGitHttpServer, type GitHttpServer } from '../helpers/git-http-server.js';
import { createTempGitops, git, type TempGitops } from '../helpers/git-repos.js';
import { apiHeaders, pipelineEvent, settled, startTestHoist, testConfigText, waitFor, webhookRequest, type TestHoist } from '../helpers/hoist.js';
import { freePort } from '../helpers/redis-server.js';

const USER = 'hoist';
const PASSWORD = 'right-password';

function withCredentials(url: string, password = PASSWORD): string {
  return url.replace('http://', `http://${USER}:${password}@`);
}

/** Hoist on `url` with `attempts` tries per promotion (BullMQ backs off 1 s, 2 s, … between them). */
async function hoistOn(url: string, attempts?: number): Promise<TestHoist> {
  const config = parseConfig(testConfigText(url), 'test.yaml', {});
  return startTestHoist(attempts === undefined ? config : { ...config, queue: { ...config.queue, attempts } });
}

async function promote(hoist: TestHoist, pipelineId: number): Promise<string> {
  const sha = `${pipelineId.toString(16).padStart(8, '0')}${'d'.repeat(32)}`;
  const res = await hoist.app.request('/webhooks/gitlab', webhookRequest(await pipelineEvent({ id: pipelineId, sha })));
  expect(res.status).toBe(202);
  return ((await res.json()) as { promotions: Array<{ id: string }> }).promotions[0]!.id;
}

async function view(hoist: TestHoist, id: string): Promise<Record<string, unknown>> {
  const res = await hoist.app.request(`/api/promotions/${id}`, { headers: apiHeaders });
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, unknown>;
}

async function readiness(hoist: TestHoist): Promise<{ status: number; gitops: string }> {
  const res = await hoist.app.request('/readyz');
  return { status: res.status, gitops: ((await res.json()) as { checks: Record<string, string> }).checks.gitops ?? '' };
}

const refs = (bare: string) => git(bare, 'for-each-ref', '--format=%(refname) %(objectname)');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('the test Git server', () => {
  let gitops: TempGitops;
  let server: GitHttpServer;

  beforeEach(async () => {
    gitops = await createTempGitops();
    server = await startGitHttpServer({ projectRoot: gitops.root, username: USER, password: PASSWORD });
  });
  afterEach(async () => {
    await server.stop();
    await gitops.cleanup();
  });

  it('lets a real git clone and push with the right password and refuses a wrong one', async () => {
    const dir = join(gitops.root, 'work');
    await git(gitops.root, 'clone', '--quiet', withCredentials(`${server.url}gitops.git`), dir);
    await writeFile(join(dir, 'note.txt'), 'pushed over smart HTTP\n');
    await git(dir, 'add', 'note.txt');
    await git(dir, 'commit', '-q', '-m', 'note');
    await git(dir, 'push', '-q', 'origin', 'main');
    expect(await git(gitops.bare, 'log', '-1', '--format=%s', 'main')).toBe('note\n');
    expect(server.requests.filter((r) => r.path === '/gitops.git/git-receive-pack')).toEqual([
      { method: 'POST', path: '/gitops.git/git-receive-pack', query: '', authorization: 'accepted', username: USER, status: 200 },
    ]);

    const refused = git(gitops.root, 'clone', '--quiet', withCredentials(`${server.url}gitops.git`, 'wrong'), join(gitops.root, 'other'));
    await expect(refused).rejects.toThrow(/Authentication failed/);
    expect(server.requests.at(-1)).toMatchObject({ authorization: 'refused', username: USER, status: 401 });
  });
});

describe('promotions against a failing GitOps remote', () => {
  let gitops: TempGitops;
  let server: GitHttpServer | undefined;
  let hoist: TestHoist | undefined;
  let head: string;

  beforeEach(async () => {
    gitops = await createTempGitops();
    head = (await git(gitops.bare, 'rev-parse', 'main')).trim();
  });
  afterEach(async () => {
    await hoist?.close();
    await server?.stop();
    await gitops.cleanup();
    hoist = undefined;
    server = undefined;
  });

  it('fails at once, without retries, when the remote refuses our credentials', async () => {
    server = await startGitHttpServer({ projectRoot: gitops.root, username: USER, password: PASSWORD });
    const url = `${server.url}gitops.git`;
    hoist = await hoistOn(withCredentials(url, 'wrong-password'));
    expect(await readiness(hoist)).toEqual({ status: 503, gitops: expect.stringMatching(/refused our credentials/) });

    const started = Date.now();
    const id = await promote(hoist, 4001);
    const final = await settled(hoist, id);
    expect(final).toMatchObject({ state: 'failed', attempts: 1 });
    expect(final.error).toMatch(new RegExp(`^cloning the GitOps repository failed: the GitOps remote \\(${url.replace(/[.]/g, '\\.')}\\) refused our credentials: .*Authentication failed`));
    // The default 5 attempts with backoff would take over 15 s; a refused login must not be retried.
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(server.requests.some((r) => r.authorization === 'refused' && r.username === USER)).toBe(true);

    // No retry is scheduled either: past the first backoff (1 s) nothing reaches the server again.
    const seen = server.requests.length;
    await sleep(1_500);
    expect(server.requests.length).toBe(seen);
    expect(await view(hoist, id)).toMatchObject({ state: 'failed', attempts: 1 });
    expect((await refs(gitops.bare)).trim()).toBe(`refs/heads/main ${head}`);
  });

  it('fails at once with the server\'s words when a pre-receive hook protects the branch, leaving nothing on the remote', async () => {
    const hook = join(gitops.bare, 'hooks', 'pre-receive');
    await writeFile(hook, '#!/bin/sh\ncat >/dev/null\necho "GitLab: You are not allowed to push code to protected branches on this project."\nexit 1\n');
    await chmod(hook, 0o755);
    server = await startGitHttpServer({ projectRoot: gitops.root, username: USER, password: PASSWORD });
    hoist = await hoistOn(withCredentials(`${server.url}gitops.git`));

    const id = await promote(hoist, 4002);
    const final = await settled(hoist, id);
    expect(final).toMatchObject({ state: 'failed', attempts: 1 });
    expect(final.error).toMatch(/^pushing to the GitOps branch failed: .*rejected the push \(protected branch or server hook\)/);
    expect(final.error).toContain('GitLab: You are not allowed to push code to protected branches on this project.');
    expect(final).not.toHaveProperty('commit');

    // The push really was attempted (and authenticated) and its commit exists locally, yet none of it
    // reached the remote: git's quarantine dropped the objects along with the refused ref update.
    expect(server.requests.some((r) => r.path === '/gitops.git/git-receive-pack' && r.authorization === 'accepted')).toBe(true);
    // Hoist builds its commit in the clone's object store; the branch ref moves only after a push succeeds.
    const [workspace] = await readdir(join(hoist.dataDir, 'workspaces'));
    const clone = join(hoist.dataDir, 'workspaces', workspace!);
    expect((await git(clone, 'rev-parse', 'HEAD')).trim()).toBe(head);
    const unpushed = /unreachable commit ([0-9a-f]{40})/.exec(await git(clone, 'fsck', '--unreachable', '--no-reflogs'))?.[1];
    expect(await git(clone, 'log', '-1', '--format=%s', unpushed!)).toMatch(/^promote web to dev/);
    expect((await refs(gitops.bare)).trim()).toBe(`refs/heads/main ${head}`);
    await expect(git(gitops.bare, 'cat-file', '-e', `${unpushed}^{commit}`)).rejects.toThrow();
  });

  it('retries an unreachable remote, reporting why, and fails with that reason once the attempts are used up', async () => {
    const url = `http://127.0.0.1:${await freePort()}/gitops.git`;
    hoist = await hoistOn(withCredentials(url), 2);
    expect(await readiness(hoist)).toEqual({ status: 503, gitops: expect.stringMatching(/could not be reached/) });

    const id = await promote(hoist, 4003);
    const retrying = await waitFor(async () => {
      const v = await view(hoist!, id);
      return v.state === 'queued' && v.attempts === 1 ? v : undefined;
    }, 'the first attempt to fail and be queued again', 10_000);
    expect(retrying.error).toMatch(/^cloning the GitOps repository failed: the GitOps remote \(http:\/\/127\.0\.0\.1:\d+\/gitops\.git\) could not be reached: .*Failed to connect to 127\.0\.0\.1 port \d+/);

    const final = await settled(hoist, id);
    expect(final).toMatchObject({ state: 'failed', attempts: 2 });
    expect(final.error).toMatch(/could not be reached: .*Failed to connect to 127\.0\.0\.1 port \d+/);
    expect((await refs(gitops.bare)).trim()).toBe(`refs/heads/main ${head}`);
  });

  it('commits on the retry once the remote is reachable again', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/gitops.git`;
    // A third attempt only as slack for a slow machine: the server is up long before the second.
    hoist = await hoistOn(withCredentials(url), 3);

    const id = await promote(hoist, 4004);
    const retrying = await waitFor(async () => {
      const v = await view(hoist!, id);
      return v.state === 'queued' && (v.attempts as number) >= 1 ? v : undefined;
    }, 'a failed attempt to be queued again', 10_000);
    expect(retrying.error).toMatch(/could not be reached/);
    // The retry is due 1 s after the failure; the server comes up at the same address well before.
    server = await startGitHttpServer({ projectRoot: gitops.root, username: USER, password: PASSWORD, port });

    const final = await settled(hoist, id);
    expect(final).toMatchObject({ state: 'committed', attempts: (retrying.attempts as number) + 1, tag: '00000fa4' });
    expect(final).not.toHaveProperty('error');
    expect(final.commit).toBe((await git(gitops.bare, 'rev-parse', 'main')).trim());
    expect((await git(gitops.bare, 'rev-parse', 'main~1')).trim()).toBe(head);
  });
});
