import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSyntheticGitops, git, type TempGitops } from '../helpers/git-repos.js';
import { API_TOKEN, pipelineEvent, settled, startTestHoist, type TestHoist, WEBHOOK_SECRET, webhookRequest } from '../helpers/hoist.js';
import { recordFigures } from './figures.js';

// Anyone who can push to the GitOps repository (or get a merge request merged) can write `Hoist-*` trailers into a
// commit. None of that may count: only commits whose signature verifies against Hoist's key are Hoist's history.

const run = promisify(execFile);

function config(url: string, gitops = '', prodPolicy = 'manual'): string {
  return `gitops: { url: "${url}", branch: main${gitops} }
gitlab: { webhookSecret: ${WEBHOOK_SECRET} }
api: { token: ${API_TOKEN}, trustUserHeader: true }
environments:
  - { name: dev, path: overlays/dev, promotion: auto }
  - { name: staging, path: overlays/staging, from: dev, promotion: manual }
  - { name: prod, path: overlays/prod, from: staging, promotion: ${prodPolicy} }
apps:
  - { name: web, project: group/web, image: registry.example.com/group/web, tag: "v$CI_PIPELINE_ID" }
`;
}

/** The trailer groups Hoist writes, copied by an attacker into a commit of their own. */
const forgedTrailers = (env: string, tag: string) =>
  `\n\nHoist-App: web\nHoist-Env: ${env}\nHoist-Tag: ${tag}\nHoist-Promotion: p-forged${randomUUID().slice(0, 8)}\nHoist-Source: https://gitlab.example.com/group/web/-/pipelines/999999\nHoist-Kind: manual\nHoist-Requested-By: alice (api)\n`;

describe('history that cannot be forged', () => {
  let gitops: TempGitops;
  let hoist: TestHoist;
  let attacks = 0;

  const as = (user: string) => ({ Authorization: `Bearer ${API_TOKEN}`, 'X-Hoist-User': user, 'Content-Type': 'application/json' });
  const post = async (path: string, user: string, body: unknown) => {
    const res = await hoist.app.request(path, { method: 'POST', headers: as(user), body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> & { error?: string; id?: string } };
  };
  const history = async (query: string) => ((await (await hoist.app.request(`/api/history?${query}`, { headers: as('reader') })).json()) as { entries: Array<Record<string, unknown>> }).entries;
  const pipeline = async (id: number) => {
    const res = await hoist.app.request('/webhooks/gitlab', webhookRequest(await pipelineEvent({ project: 'group/web', id, sha: randomUUID().replace(/-/g, '').padEnd(40, '0') })));
    return settled(hoist, ((await res.json()) as { promotions: Array<{ id: string }> }).promotions[0]!.id);
  };
  const tagIn = async (env: string) => /newTag: "([^"]+)"/.exec(await git(gitops.bare, 'show', `main:overlays/${env}/kustomization.yaml`))?.[1];

  /** A commit pushed by "mallory" that touches an overlay and carries forged trailers. */
  async function pushOutside(env: string, tag: string | undefined, trailers: string, author = 'Mallory <mallory@example.invalid>'): Promise<string> {
    const clone = await gitops.clone(`mallory-${randomUUID().slice(0, 6)}`);
    const file = join(clone, `overlays/${env}/kustomization.yaml`);
    const text = await readFile(file, 'utf8');
    await writeFile(file, tag === undefined ? `${text}# touched\n` : text.replace(/newTag: .*/, `newTag: "${tag}"`));
    const [name, email] = author.replace('>', '').split(' <') as [string, string];
    await run('git', ['-c', `user.name=${name}`, '-c', `user.email=${email}`, 'commit', '-qam', `promote web to ${env}: ${tag ?? 'x'}${trailers}`], { cwd: clone, env: { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null' } });
    await git(clone, 'push', '-q', 'origin', 'main');
    attacks++;
    return (await git(clone, 'rev-parse', 'HEAD')).trim();
  }

  beforeEach(async () => {
    gitops = await createSyntheticGitops(['web']);
  });
  afterEach(async () => {
    await hoist.close();
    await gitops.cleanup();
  });

  it('a forged trailer never makes a rollback target: the tag is refused and prod is untouched', async () => {
    hoist = await startTestHoist(config(gitops.url));
    expect((await pipeline(1)).state).toBe('committed');
    // Trailers claim prod once ran "evil" (it never did), without changing prod's overlay.
    await pushOutside('prod', undefined, forgedTrailers('prod', 'evil'));
    const rollback = await post('/api/rollbacks', 'bob', { app: 'web', env: 'prod', tag: 'evil' });
    expect(rollback.status).toBe(400);
    expect(rollback.body.error).toMatch(/never ran web:evil/);
    expect(await tagIn('prod')).toBe('0.0.0');
    // The tag prod ran before Hoist's first commit stays a valid target (here it is what prod runs: nothing to do).
    expect((await post('/api/rollbacks', 'bob', { app: 'web', env: 'prod', tag: '0.0.0' })).status).toBe(409);
  });

  it('a forged trailer never passes the chain check: a never-staged tag cannot go to prod', async () => {
    hoist = await startTestHoist(config(gitops.url));
    await pushOutside('staging', undefined, forgedTrailers('staging', 'unbuilt'));
    const promotion = await post('/api/promotions', 'alice', { app: 'web', to: 'prod', tag: 'unbuilt' });
    expect(promotion.status).toBe(400);
    expect(promotion.body.error).toMatch(/web:unbuilt has never been in staging/);
  });

  it('an outside commit that sets a tag grants nothing: the tag it put in staging cannot be promoted from there', async () => {
    hoist = await startTestHoist(config(gitops.url));
    expect((await pipeline(2)).state).toBe('committed');
    const staged = await post('/api/promotions', 'alice', { app: 'web', to: 'staging' });
    expect(staged.status).toBe(202);
    expect(await settled(hoist, staged.body.id as string)).toMatchObject({ state: 'committed' });
    // Hoist has written to the repo; now mallory sets staging to a tag no pipeline built, trailers and all.
    await pushOutside('staging', 'mallory1', forgedTrailers('staging', 'mallory1'));
    const promotion = await post('/api/promotions', 'alice', { app: 'web', to: 'prod' });
    expect(promotion.status).toBe(400);
    expect(promotion.body.error).toMatch(/web:mallory1 has never been in staging; staging runs it, but only because of a commit Hoist did not sign/);
    // And a rollback in staging does not offer the outside tag either.
    expect((await post('/api/rollbacks', 'alice', { app: 'web', env: 'staging', tag: 'mallory1' })).status).toBe(400);
  });

  it('GET /api/history lists outside commits as outside, with their author and what they changed', async () => {
    hoist = await startTestHoist(config(gitops.url));
    expect((await pipeline(3)).state).toBe('committed');
    const forged = await pushOutside('dev', 'v9', forgedTrailers('dev', 'v9'));
    const entries = await history('app=web&env=dev');
    expect(entries[0]).toEqual({
      commit: forged,
      date: expect.any(String),
      kind: 'outside',
      env: 'dev',
      app: 'web',
      image: 'registry.example.com/group/web',
      tag: 'v9',
      previousTag: 'v3',
      author: 'Mallory <mallory@example.invalid>',
      subject: 'promote web to dev: v9',
      paths: ['overlays/dev/kustomization.yaml'],
      repo: 'default',
    });
    // Hoist's own commit is still Hoist's; the forged group in the outside commit is not listed as a promotion.
    expect(entries[1]).toMatchObject({ kind: 'pipeline', tag: 'v3', env: 'dev' });
    expect(entries.filter((e) => e.kind !== 'outside').every((e) => !String(e.promotion).startsWith('p-forged'))).toBe(true);
    // An outside change to other overlay content is listed too, without an app.
    await pushOutside('dev', undefined, '');
    expect((await history('env=dev'))[0]).toMatchObject({ kind: 'outside', env: 'dev', paths: ['overlays/dev/kustomization.yaml'] });
    expect((await history('env=dev'))[0]).not.toHaveProperty('app');
  });

  it('an older pipeline is not held back by a forged newer one, nor "already landed" by a forged trailer', async () => {
    hoist = await startTestHoist(config(gitops.url));
    // Forged: pipeline 999999 landed tag v0 in dev. If believed, every real pipeline would be "older" and skipped.
    await pushOutside('dev', 'v0', forgedTrailers('dev', 'v0'));
    expect(await pipeline(5)).toMatchObject({ state: 'committed', tag: 'v5' });
    expect(await tagIn('dev')).toBe('v5');
    recordFigures('forged history (unsigned commits with Hoist trailers)', { events: attacks, skipped: 0, failed: 0, committed: 1, lost: 0, duplicated: 0 });
  });
});

describe('signing keys: configured, rotated, or kept in Redis', () => {
  let gitops: TempGitops;
  const hoists: TestHoist[] = [];
  beforeEach(async () => {
    gitops = await createSyntheticGitops(['web']);
  });
  afterEach(async () => {
    for (const h of hoists.splice(0)) await h.close();
    await gitops.cleanup();
  });

  const keygen = async (dir: string, name: string) => {
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', join(dir, name)]);
    return { path: join(dir, name), text: await readFile(join(dir, name), 'utf8'), pub: (await readFile(join(dir, `${name}.pub`), 'utf8')).trim() };
  };
  const promote = async (hoist: TestHoist, id: number) => {
    const res = await hoist.app.request('/webhooks/gitlab', webhookRequest(await pipelineEvent({ project: 'group/web', id })));
    return settled(hoist, ((await res.json()) as { promotions: Array<{ id: string }> }).promotions[0]!.id);
  };
  const landed = async (hoist: TestHoist) =>
    ((await (await hoist.app.request('/api/history?app=web&env=dev', { headers: { Authorization: `Bearer ${API_TOKEN}` } })).json()) as { entries: Array<{ kind: string; tag?: string }> }).entries.map((e) => `${e.kind}:${e.tag}`);

  it('signs with gitops.signingKey (a path or the key text); after a rotation, trustedKeys keeps the old history Hoist’s', async () => {
    const old = await keygen(gitops.root, 'hoist-2025');
    const next = await keygen(gitops.root, 'hoist-2026');
    const first = await startTestHoist(config(gitops.url, `, signingKey: "${old.path}"`));
    hoists.push(first);
    expect(await promote(first, 10)).toMatchObject({ state: 'committed' });
    await writeFile(join(gitops.root, 'allowed'), `hoist@example.invalid namespaces="git" ${old.pub}\n`);
    expect((await git(gitops.bare, '-c', `gpg.ssh.allowedSignersFile=${join(gitops.root, 'allowed')}`, 'log', '-1', '--format=%G?', 'main')).trim()).toBe('G');
    expect(first.logs.join('')).toContain(old.pub.split(' ')[1]);

    // The key text itself, inline (as from a Secret's environment variable), after a rotation.
    const keyText = JSON.stringify(next.text);
    const rotated = await startTestHoist(config(gitops.url, `, signingKey: ${keyText}, trustedKeys: ["${old.pub}"]`));
    hoists.push(rotated);
    expect(await promote(rotated, 11)).toMatchObject({ state: 'committed' });
    expect(await landed(rotated)).toEqual(expect.arrayContaining(['pipeline:v11', 'pipeline:v10']));
    // Without the old key among the trusted ones, what it signed is an outside change.
    const forgetful = await startTestHoist(config(gitops.url, `, signingKey: ${keyText}`));
    hoists.push(forgetful);
    expect(await landed(forgetful)).toEqual(expect.arrayContaining(['pipeline:v11', 'outside:v10']));
  });

  it('without a signing key, replicas share one key Hoist made and keeps in Redis, and say so at start-up', async () => {
    const a = await startTestHoist(config(gitops.url), { role: 'web' });
    hoists.push(a);
    const b = await startTestHoist(config(gitops.url), { prefix: a.prefix });
    hoists.push(b);
    const logged = (h: TestHoist) => h.logs.map((l) => JSON.parse(l) as { msg: string; publicKey?: string; level: number }).find((l) => l.publicKey);
    expect(logged(a)).toMatchObject({ level: 40, msg: expect.stringMatching(/keeps in Redis: set gitops\.signingKey/) });
    expect(logged(b)?.publicKey).toBe(logged(a)?.publicKey);
    // b's worker signs; a (another replica) trusts it.
    expect(await promote(b, 12)).toMatchObject({ state: 'committed' });
    expect(await landed(a)).toContain('pipeline:v12');
  });

  it('refuses a signing key it cannot use, naming the key', async () => {
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'passphrase', '-f', join(gitops.root, 'locked')]);
    await expect(startTestHoist(config(gitops.url, `, signingKey: "${join(gitops.root, 'locked')}"`))).rejects.toThrow(/gitops\.signingKey: .*passphrase/);
    await expect(startTestHoist(config(gitops.url, `, signingKey: "${join(gitops.root, 'missing')}"`))).rejects.toThrow(/gitops\.signingKey: cannot read/);
    await expect(startTestHoist(config(gitops.url, ', trustedKeys: ["ssh-rsa AAAA"]'))).rejects.toThrow(/gitops\.trustedKeys\[0\]/);
  });
});
