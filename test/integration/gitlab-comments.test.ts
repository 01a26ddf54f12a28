import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSyntheticGitops, git, PROJECT_ROOT, type TempGitops } from '../helpers/git-repos.js';
import { startGitlabStub, type GitlabStub, type StubNoteable } from '../helpers/gitlab-stub.js';
import { API_TOKEN, pipelineEvent, settled, startTestHoist, type TestHoist, waitFor, webhookRequest, WEBHOOK_SECRET } from '../helpers/hoist.js';

const GITLAB_TOKEN = 'glpat-hoist-comments';
const BOT = { id: 77, username: 'hoist-bot' };
const PEOPLE = { alice: 11, bob: 12, carol: 13, mallory: 14 } as const;

function config(gitops: string, gitlab: string): string {
  return `gitops: { url: "${gitops}", branch: main, project: group/gitops }
gitlab: { webhookSecret: ${WEBHOOK_SECRET}, url: "${gitlab}", token: ${GITLAB_TOKEN} }
api: { token: ${API_TOKEN}, trustUserHeader: true }
rbac:
  promote: { dev: ["*"], staging: ["*"], prod: [alice, bob, carol] }
environments:
  - { name: dev, path: overlays/dev, promotion: auto }
  - { name: staging, path: overlays/staging, from: dev, promotion: manual }
  - name: prod
    path: overlays/prod
    from: staging
    promotion: manual
    approvals: { required: 2, approvers: [alice, bob, carol] }
apps:
  - { name: web, project: group/web, image: registry.example.com/group/web, tag: "v$CI_PIPELINE_ID" }
`;
}

/** What the note says once rendered: GitLab drops the backslash of an escaped character. */
const rendered = (body: string) => body.replace(/\\(.)/g, '$1');

describe('/hoist in GitLab comments', () => {
  let gitops: TempGitops;
  let gitlab: GitlabStub;
  let hoist: TestHoist;
  let webProjectId: number;
  let gitopsProjectId: number;
  let mr: number;
  let mrSample: Record<string, Record<string, unknown>>;
  let commitSample: Record<string, Record<string, unknown>>;

  const api = (path: string, init: RequestInit = {}) =>
    hoist.app.request(`/api${path}`, { ...init, headers: { Authorization: `Bearer ${API_TOKEN}`, 'X-Hoist-User': 'ops', 'Content-Type': 'application/json' } });
  const botNotes = (project = 'group/web') => gitlab.notes(project).filter((n) => n.author === BOT.username);

  /** A person comments in GitLab (a new thread), and GitLab sends the Note Hook, as it does. */
  const comment = async (who: keyof typeof PEOPLE | typeof BOT, text: string, on: StubNoteable = { kind: 'merge-request', iid: mr }, project = 'group/web', extra: Record<string, unknown> = {}) => {
    const author = typeof who === 'string' ? { id: PEOPLE[who], username: who } : who;
    const { noteId, discussionId } = gitlab.comment(project, on, text, author);
    const sample = on.kind === 'merge-request' ? mrSample : commitSample;
    const hook = {
      ...sample,
      user: { ...sample.user, id: author.id, username: author.username, name: author.username },
      project: { ...sample.project, id: project === 'group/web' ? webProjectId : gitopsProjectId, path_with_namespace: project },
      object_attributes: { ...sample.object_attributes, id: noteId, note: text, discussion_id: discussionId, ...(on.kind === 'commit' ? { commit_id: on.sha } : {}), ...extra },
      ...(on.kind === 'merge-request' ? { merge_request: { ...sample.merge_request, iid: on.iid } } : {}),
    };
    const res = await hoist.app.request('/webhooks/gitlab', webhookRequest(hook, { 'X-Gitlab-Event': 'Note Hook' }));
    return { status: res.status, body: (await res.json()) as Record<string, unknown>, noteId, discussionId, hook };
  };
  /** Hoist's answers in one thread, once there are `count` of them. */
  const answers = (discussionId: string, count = 1, project = 'group/web') =>
    waitFor(async () => {
      const found = botNotes(project).filter((n) => n.discussionId === discussionId);
      return found.length >= count ? found : undefined;
    }, `${count} answer(s) in thread ${discussionId.slice(0, 8)}`);

  beforeAll(async () => {
    gitops = await createSyntheticGitops(['web']);
    gitlab = await startGitlabStub({ token: GITLAB_TOKEN, user: BOT });
    webProjectId = gitlab.addProject('group/web');
    gitopsProjectId = gitlab.addProject('group/gitops');
    mr = gitlab.addMergeRequest('group/web', { sourceBranch: 'feature/login' });
    mrSample = JSON.parse(await readFile(join(PROJECT_ROOT, 'test/fixtures/gitlab/note-merge-request-event.json'), 'utf8')) as typeof mrSample;
    commitSample = JSON.parse(await readFile(join(PROJECT_ROOT, 'test/fixtures/gitlab/note-commit-event.json'), 'utf8')) as typeof commitSample;
    hoist = await startTestHoist(config(gitops.url, gitlab.url));
    // v11 in dev (a pipeline) and staging (asked for), so prod can take it.
    const res = await hoist.app.request('/webhooks/gitlab', webhookRequest(await pipelineEvent({ project: 'group/web', id: 11 })));
    await settled(hoist, ((await res.json()) as { promotions: Array<{ id: string }> }).promotions[0]!.id);
    const staging = (await (await api('/promotions', { method: 'POST', body: JSON.stringify({ app: 'web', env: 'staging' }) })).json()) as { id: string };
    await settled(hoist, staging.id);
  });
  afterAll(async () => {
    await hoist?.close();
    await gitlab?.close();
    await gitops?.cleanup();
  });

  it('promotes to prod from a merge request comment with approvals from two commenters, answering in each thread', async () => {
    const asked = await comment('alice', '/hoist promote web prod');
    expect(asked.status).toBe(202);
    expect(asked.body).toMatchObject({ note: asked.noteId, command: 'promote', promotions: [expect.stringMatching(/^p-/)] });
    const id = (asked.body.promotions as string[])[0]!;
    const [first] = await answers(asked.discussionId);
    // The answer is a reply in the comment's own thread, through the Discussions API.
    const post = gitlab.requests.find((r) => r.method === 'POST' && r.path === `/api/v4/projects/group/web/merge_requests/${mr}/discussions/${asked.discussionId}/notes`);
    expect(post?.headers['private-token']).toBe(GITLAB_TOKEN);
    expect(post?.body).toEqual({ body: first!.body });
    expect(rendered(first!.body)).toContain(`alice asked to promote web to prod:`);
    expect(rendered(first!.body)).toContain(`Promotion ${id}`);
    expect(first!.body).toContain('awaiting\\-approval');
    expect(first!.body).toContain(`Approve with \`/hoist approve ${id}\``);

    // Nobody may approve their own request, nor someone outside the approvers; both are told why.
    const self = await comment('alice', `/hoist approve ${id}`);
    const [selfAnswer] = await answers(self.discussionId);
    expect(rendered(selfAnswer!.body)).toMatch(/^🚫 not allowed: alice requested this promotion and cannot approve it \(allowSelfApproval is false\)/);
    const outsider = await comment('mallory', `/hoist approve ${id}`);
    const [outsiderAnswer] = await answers(outsider.discussionId);
    expect(rendered(outsiderAnswer!.body)).toMatch(/^🚫 not allowed: mallory is not among the approvers \(alice, bob, carol\)/);

    const bob = await comment('bob', `/hoist approve ${id}`);
    const [bobAnswer] = await answers(bob.discussionId);
    expect(rendered(bobAnswer!.body)).toContain('bob approved');
    expect(rendered(bobAnswer!.body)).toContain('Approvals: 1 of 2 (bob); 1 missing');
    const carol = await comment('carol', `/hoist approve ${id}`);
    const [carolAnswer] = await answers(carol.discussionId);
    expect(rendered(carolAnswer!.body)).toContain('carol approved');
    expect(rendered(carolAnswer!.body)).toContain('Approvals: 2 of 2 (bob, carol)');
    expect((await settled(hoist, id)).state).toBe('committed');

    // Later, the end state goes to every thread that asked for or approved it.
    for (const thread of [asked, bob, carol]) {
      const [, landed] = await answers(thread.discussionId, 2);
      expect(rendered(landed!.body)).toMatch(new RegExp(`^🏁 \\*\\*Promotion ${id}\\*\\* landed:\\n✅ `));
      expect(landed!.body).toContain('committed');
    }
    // Mallory's refused approval watches nothing.
    expect(botNotes().filter((n) => n.discussionId === outsider.discussionId)).toHaveLength(1);
  });

  it('refuses a prod promotion from someone rbac does not let promote, and does not run an edited comment again', async () => {
    const refused = await comment('mallory', '/hoist promote web prod');
    expect(refused.status).toBe(202);
    expect(refused.body).toMatchObject({ command: 'promote', promotions: [] });
    const [answer] = await answers(refused.discussionId);
    expect(rendered(answer!.body)).toMatch(/^🚫 not allowed: .*mallory.*prod/);

    // The same note edited (action: update), or delivered again: nothing runs twice.
    const before = gitlab.notes('group/web').length;
    const res = await hoist.app.request('/webhooks/gitlab', webhookRequest({ ...refused.hook, object_attributes: { ...refused.hook.object_attributes, action: 'update' } }, { 'X-Gitlab-Event': 'Note Hook' }));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ignored: expect.stringMatching(new RegExp(`note ${refused.noteId} was taken already`)) });
    expect(gitlab.notes('group/web')).toHaveLength(before);

    // A comment outside any thread (older GitLab sends no discussion_id) is answered with a note on the merge request.
    const plainNote = await comment('mallory', '/hoist help', { kind: 'merge-request', iid: mr }, 'group/web', { discussion_id: null });
    expect(plainNote.status).toBe(202);
    const answer2 = await waitFor(async () => gitlab.requests.find((r) => r.method === 'POST' && r.path === `/api/v4/projects/group/web/merge_requests/${mr}/notes`), 'a note on the merge request');
    expect(rendered((answer2.body as { body: string }).body)).toContain('/hoist promote <app>[,<app>…] <env> [tag]');
  });

  it("ignores Hoist's own comments (learnt once from GET /user), other notes, and unknown projects", async () => {
    const own = await comment(BOT, '/hoist promote web prod');
    expect(own).toMatchObject({ status: 200, body: { ignored: "a comment by Hoist's own user" } });
    expect((await comment('alice', 'LGTM, /hoist later')).body).toEqual({ ignored: 'not a /hoist command' });
    expect((await comment('alice', '/hoisting promote web prod')).body).toEqual({ ignored: 'not a /hoist command' });
    gitlab.addProject('other/thing');
    const elsewhere = await comment('alice', '/hoist status', { kind: 'commit', sha: 'a'.repeat(40) }, 'other/thing');
    expect(elsewhere.body).toEqual({ ignored: expect.stringMatching(/other\/thing, which is neither/) });
    expect(gitlab.requests.filter((r) => r.path === '/api/v4/user')).toHaveLength(1);
  });

  it('answers a comment on a GitOps commit in its thread, and keeps what people typed from becoming mentions or links', async () => {
    const sha = 'c'.repeat(40);
    const status = await comment('alice', '/hoist status', { kind: 'commit', sha }, 'group/gitops');
    expect(status.status).toBe(202);
    const [answer] = await answers(status.discussionId, 1, 'group/gitops');
    expect(gitlab.requests.some((r) => r.method === 'POST' && r.path === `/api/v4/projects/group/gitops/repository/commits/${sha}/discussions/${status.discussionId}/notes`)).toBe(true);
    expect(answer!.body).toContain('**Environments**');

    // What a repository says about itself is escaped too: an outside commit's author line, in the history answer.
    const work = await gitops.clone('outsider');
    await writeFile(join(work, 'overlays/staging/@all.yaml'), 'kind: ConfigMap\n');
    await git(work, 'add', '-A');
    await git(work, 'commit', '-q', '--author', '@all [x](http://evil.example) #1 <m@example.invalid>', '-m', 'sneak');
    await git(work, 'push', '-q', 'origin', 'HEAD:main');
    const history = await comment('alice', '/hoist history web staging');
    const [told] = await answers(history.discussionId);
    expect(rendered(told!.body)).toContain('outside change (not by Hoist): overlays/staging/@all.yaml in staging by @all [x](http://evil.example) #1');
    const sneaked = told!.body.split('\n').find((l) => l.includes('evil'));
    expect(sneaked?.replace(/`[^`]*`/g, '')).not.toMatch(/(^|[^\\])[@[#<]/);

    // Whatever was typed and echoed sits inside a code span, or behind a backslash: no @mention, no HTML, no link.
    for (const [typed, echoed] of [
      ['/hoist promote @all prod', '`@all`'],
      ['/hoist promote `@all` prod', "`'@all'`"],
      ['/hoist <img/src=x>@all', '`<img/src=x>@all`'],
      ['/hoist history [x](http://evil.example)', '`[x](http://evil.example)`'],
    ] as const) {
      const hostile = await comment('alice', typed);
      const [reply] = await answers(hostile.discussionId);
      expect(reply!.body).toMatch(/^⚠️ /);
      expect(reply!.body).toContain(echoed);
      const outsideCode = reply!.body.replace(/`[^`]*`/g, '');
      expect(outsideCode, reply!.body).not.toMatch(/(^|[^\\])[@<[`]/);
    }
  });

  it('promotes "the apps this project builds" at the merge request\'s last pipeline\'s tag', async () => {
    const feature = gitlab.addMergeRequest('group/web', { sourceBranch: 'feature/fast' });
    gitlab.setMergeRequestPipelines('group/web', feature, [
      { id: 42, iid: 7, sha: 'f'.repeat(40), ref: 'feature/fast', status: 'success', source: 'push' },
      { id: 41, iid: 6, sha: 'e'.repeat(40), ref: 'feature/fast', status: 'failed', source: 'push' },
    ]);
    const asked = await comment('alice', '/hoist promote dev', { kind: 'merge-request', iid: feature });
    expect(asked).toMatchObject({ status: 202, body: { command: 'promote', promotions: [expect.stringMatching(/^p-/)] } });
    const id = (asked.body.promotions as string[])[0]!;
    expect(await settled(hoist, id)).toMatchObject({ state: 'committed', tag: 'v42', env: 'dev' });
    const [answer] = await answers(asked.discussionId);
    expect(answer!.body).toContain('`v42`');
    expect(gitlab.requests.some((r) => r.method === 'GET' && r.path === `/api/v4/projects/group/web/merge_requests/${feature}/pipelines`)).toBe(true);

    // A merge request whose last pipeline did not succeed has nothing to promote yet.
    const red = gitlab.addMergeRequest('group/web', { sourceBranch: 'feature/red' });
    gitlab.setMergeRequestPipelines('group/web', red, [{ id: 43, sha: 'd'.repeat(40), ref: 'feature/red', status: 'failed' }]);
    const nothing = await comment('alice', '/hoist promote dev', { kind: 'merge-request', iid: red });
    const [refusal] = await answers(nothing.discussionId);
    expect(rendered(refusal!.body)).toMatch(/last pipeline of merge request !3 .*#43.* is failed/);
  });
});

