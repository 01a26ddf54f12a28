import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { closedPort, hoistFailure } from '../helpers/failures.js';
import { createGitlabApi, type GitlabApi } from '../../src/gitlab/api.js';
import { startGitlabStub, type GitlabStub } from '../helpers/gitlab-stub.js';

const TOKEN = 'glpat-test-token-never-shown';
const SHA = '18f3e63d05582537db6d183d9d557be09e1f90c8';

describe('GitLab API client (gitbeaker against a GitLab stub)', () => {
  let stub: GitlabStub;
  let api: GitlabApi;

  beforeEach(async () => {
    stub = await startGitlabStub({ token: TOKEN });
    stub.addProject('group/gitops', 42);
    stub.addProject('group/web', 7);
    api = createGitlabApi({ url: stub.url, token: TOKEN, timeoutMs: 5_000 });
  });
  afterEach(() => stub.close());

  describe('commit statuses', () => {
    it('posts the state, name, description and link to /projects/:id/statuses/:sha with the token', async () => {
      await api.setCommitStatus({ project: 'group/web', sha: SHA, state: 'success', name: 'hoist/staging', description: 'promoted to staging', targetUrl: 'https://hoist.example.com/p/1' });
      expect(stub.requests).toHaveLength(1);
      const [request] = stub.requests;
      expect(request).toMatchObject({
        method: 'POST',
        path: `/api/v4/projects/group/web/statuses/${SHA}`,
        rawPath: `/api/v4/projects/group%2Fweb/statuses/${SHA}`,
        body: { state: 'success', name: 'hoist/staging', description: 'promoted to staging', target_url: 'https://hoist.example.com/p/1' },
      });
      expect(request?.headers['private-token']).toBe(TOKEN);
      expect(stub.statuses('group/web', SHA)).toMatchObject([{ state: 'success', name: 'hoist/staging', description: 'promoted to staging' }]);
    });

    it('accepts numeric project ids and the skipped state', async () => {
      await api.setCommitStatus({ project: 7, sha: SHA, state: 'skipped', name: 'hoist/prod' });
      expect(stub.requests[0]?.path).toBe(`/api/v4/projects/7/statuses/${SHA}`);
      expect(stub.requests[0]?.body).toEqual({ state: 'skipped', name: 'hoist/prod' });
    });

    it("cuts the description to GitLab's 255 characters and leaves out a link GitLab would refuse", async () => {
      await api.setCommitStatus({ project: 'group/web', sha: SHA, state: 'failed', name: 'hoist', description: 'é'.repeat(300), targetUrl: `https://hoist.example.com/${'x'.repeat(300)}` });
      const body = stub.requests[0]?.body as Record<string, string>;
      expect([...(body.description ?? '')]).toHaveLength(255);
      expect(body.description?.endsWith('…')).toBe(true);
      expect(body).not.toHaveProperty('target_url');
    });
  });

  describe('merge requests', () => {
    it('creates one with the documented fields and reads back a reference to it', async () => {
      const mr = await api.createMergeRequest({ project: 'group/gitops', sourceBranch: 'hoist/prod/web-v2', targetBranch: 'main', title: 'promote web to prod: v2', description: 'diff here', removeSourceBranch: true });
      expect(stub.requests[0]).toMatchObject({
        method: 'POST',
        path: '/api/v4/projects/group/gitops/merge_requests',
        body: { source_branch: 'hoist/prod/web-v2', target_branch: 'main', title: 'promote web to prod: v2', description: 'diff here', remove_source_branch: true },
      });
      expect(mr).toEqual({
        iid: 1,
        webUrl: `${stub.url}/group/gitops/-/merge_requests/1`,
        state: 'opened',
        sourceBranch: 'hoist/prod/web-v2',
        targetBranch: 'main',
        mergeCommitSha: undefined,
        squashCommitSha: undefined,
        sha: expect.stringMatching(/^[0-9a-f]{40}$/),
      });
    });

    it('finds only an open merge request for the branch pair, asking GitLab to filter', async () => {
      expect(await api.findOpenMergeRequest({ project: 'group/gitops', sourceBranch: 'hoist/prod/web-v2', targetBranch: 'main' })).toBeUndefined();
      expect(stub.requests[0]).toMatchObject({
        method: 'GET',
        path: '/api/v4/projects/group/gitops/merge_requests',
        query: { source_branch: 'hoist/prod/web-v2', target_branch: 'main', state: 'opened', page: '1', per_page: '20' },
      });

      await api.createMergeRequest({ project: 'group/gitops', sourceBranch: 'hoist/prod/web-v2', targetBranch: 'main', title: 't', description: 'd' });
      stub.mergeMergeRequest('group/gitops', 1, 'c0ffee'.padEnd(40, '0'));
      await api.createMergeRequest({ project: 'group/gitops', sourceBranch: 'hoist/prod/web-v2', targetBranch: 'main', title: 't', description: 'd' });
      await api.createMergeRequest({ project: 'group/gitops', sourceBranch: 'hoist/prod/api-v9', targetBranch: 'main', title: 't', description: 'd' });
      const open = await api.findOpenMergeRequest({ project: 'group/gitops', sourceBranch: 'hoist/prod/web-v2', targetBranch: 'main' });
      expect(open).toMatchObject({ iid: 2, state: 'opened', sourceBranch: 'hoist/prod/web-v2' });
    });

    it('updates title and description with PUT and reads a merged one with its merge commit', async () => {
      await api.createMergeRequest({ project: 'group/gitops', sourceBranch: 's', targetBranch: 'main', title: 'old', description: 'old' });
      const updated = await api.updateMergeRequest({ project: 'group/gitops', iid: 1, title: 'new', description: 'new body' });
      expect(stub.requests[1]).toMatchObject({ method: 'PUT', path: '/api/v4/projects/group/gitops/merge_requests/1', body: { title: 'new', description: 'new body' } });
      expect(updated.state).toBe('opened');
      expect(stub.mergeRequests('group/gitops')[0]).toMatchObject({ title: 'new', description: 'new body' });

      const mergeCommit = 'a'.repeat(40);
      stub.mergeMergeRequest('group/gitops', 1, mergeCommit);
      const merged = await api.getMergeRequest({ project: 'group/gitops', iid: 1 });
      expect(stub.requests[2]).toMatchObject({ method: 'GET', path: '/api/v4/projects/group/gitops/merge_requests/1' });
      expect(merged).toMatchObject({ iid: 1, state: 'merged', mergeCommitSha: mergeCommit });

      stub.closeMergeRequest('group/gitops', 1);
      expect((await api.getMergeRequest({ project: 'group/gitops', iid: 1 })).state).toBe('closed');
    });

    it("passes GitLab's refusal of a second open merge request on as a bad request", async () => {
      await api.createMergeRequest({ project: 'group/gitops', sourceBranch: 's', targetBranch: 'main', title: 't', description: 'd' });
      const error = await hoistFailure(api.createMergeRequest({ project: 'group/gitops', sourceBranch: 's', targetBranch: 'main', title: 't', description: 'd' }));
      expect(error).toMatchObject({ code: 'bad_request', retryable: false });
      expect(error.message).toContain('Another open merge request already exists for this source branch: !1');
    });

    it('reports an unknown merge request as not found', async () => {
      const error = await hoistFailure(api.getMergeRequest({ project: 'group/gitops', iid: 99 }));
      expect(error).toMatchObject({ code: 'not_found', retryable: false });
      expect(error.message).toBe('could not read merge request !99 in group/gitops: GitLab answered "404 Not found"');
    });
  });

  describe('repository files', () => {
    it('reads a file decoded to UTF-8 with its last commit', async () => {
      const text = '# café ✓\nimages:\n  - name: web\n    newTag: "v1"\n';
      const lastCommit = stub.setFile('group/gitops', 'overlays/dev/kustomization.yaml', text);
      const file = await api.getFile({ project: 'group/gitops', path: 'overlays/dev/kustomization.yaml', ref: 'main' });
      expect(file).toEqual({ content: text, lastCommitId: lastCommit, blobId: expect.stringMatching(/^[0-9a-f]{40}$/) });
      expect(stub.requests[0]).toMatchObject({
        method: 'GET',
        path: '/api/v4/projects/group/gitops/repository/files/overlays/dev/kustomization.yaml',
        rawPath: '/api/v4/projects/group%2Fgitops/repository/files/overlays%2Fdev%2Fkustomization.yaml',
        query: { ref: 'main' },
      });
    });

    it('returns undefined for a missing file but throws for a missing project or branch', async () => {
      stub.setFile('group/gitops', 'overlays/dev/kustomization.yaml', 'x: 1\n');
      expect(await api.getFile({ project: 'group/gitops', path: 'overlays/dev/kustomization.yml', ref: 'main' })).toBeUndefined();

      const project = await hoistFailure(api.getFile({ project: 'group/nope', path: 'overlays/dev/kustomization.yaml', ref: 'main' }));
      expect(project).toMatchObject({ code: 'not_found', retryable: false });
      expect(project.message).toContain('GitLab project group/nope not found or not visible to the token');

      const branch = await hoistFailure(api.getFile({ project: 'group/gitops', path: 'overlays/dev/kustomization.yaml', ref: 'no-such-branch' }));
      expect(branch).toMatchObject({ code: 'not_found' });
      expect(branch.message).toContain('404 Commit Not Found');
    });
  });

  describe('commits', () => {
    it('creates one commit with the actions, the last_commit_id guards and the author', async () => {
      const last = stub.setFile('group/gitops', 'overlays/dev/kustomization.yaml', 'a: 1\n');
      const { id } = await api.createCommit({
        project: 'group/gitops',
        branch: 'main',
        message: 'promote web to dev: v2\n\nHoist-App: web\n',
        actions: [
          { action: 'update', filePath: 'overlays/dev/kustomization.yaml', content: 'a: 2\n', lastCommitId: last },
          { action: 'create', filePath: 'overlays/dev/NOTES.md', content: 'new\n' },
        ],
        authorName: 'Hoist',
        authorEmail: 'hoist@example.com',
      });
      expect(stub.requests[0]).toMatchObject({
        method: 'POST',
        path: '/api/v4/projects/group/gitops/repository/commits',
        body: {
          branch: 'main',
          commit_message: 'promote web to dev: v2\n\nHoist-App: web\n',
          actions: [
            { action: 'update', file_path: 'overlays/dev/kustomization.yaml', content: 'a: 2\n', last_commit_id: last },
            { action: 'create', file_path: 'overlays/dev/NOTES.md', content: 'new\n' },
          ],
          author_name: 'Hoist',
          author_email: 'hoist@example.com',
        },
      });
      expect(id).toBe(stub.commits('group/gitops', 'main')[0]?.id);
      expect(stub.file('group/gitops', 'overlays/dev/kustomization.yaml')).toEqual({ content: 'a: 2\n', lastCommitId: id });
    });

    it("turns GitLab's compare-and-swap refusal into a retryable conflict without retrying it itself", async () => {
      stub.setFile('group/gitops', 'overlays/dev/kustomization.yaml', 'a: 1\n');
      const error = await hoistFailure(
        api.createCommit({ project: 'group/gitops', branch: 'main', message: 'm', actions: [{ action: 'update', filePath: 'overlays/dev/kustomization.yaml', content: 'a: 2\n', lastCommitId: 'f'.repeat(40) }] }),
      );
      expect(error).toMatchObject({ code: 'conflict', retryable: true });
      expect(error.message).toContain('The file has changed since you started editing it: overlays/dev/kustomization.yaml');
      expect(stub.requests.filter((r) => r.method === 'POST')).toHaveLength(1);
      expect(stub.file('group/gitops', 'overlays/dev/kustomization.yaml')?.content).toBe('a: 1\n');
    });

    it('also knows the single-file API wording of the same refusal, and a 409 carrying it', async () => {
      stub.failNext('POST', /repository\/commits$/, 409, { message: 'You are attempting to update a file that has changed since you started editing it.' });
      const error = await hoistFailure(api.createCommit({ project: 'group/gitops', branch: 'main', message: 'm', actions: [{ action: 'create', filePath: 'x', content: 'y' }] }));
      expect(error).toMatchObject({ code: 'conflict', retryable: true });
    });

    it('lists one page of commits touching a path, newest first', async () => {
      for (let i = 1; i <= 3; i++) stub.setFile('group/gitops', 'overlays/dev/kustomization.yaml', `v: ${i}\n`, { message: `dev ${i}` });
      stub.setFile('group/gitops', 'overlays/prod/kustomization.yaml', 'v: 1\n', { message: 'prod 1' });
      const commits = await api.listCommits({ project: 'group/gitops', ref: 'main', path: 'overlays/dev', perPage: 2 });
      expect(stub.requests).toHaveLength(1);
      expect(stub.requests[0]).toMatchObject({ method: 'GET', path: '/api/v4/projects/group/gitops/repository/commits', query: { ref_name: 'main', path: 'overlays/dev', per_page: '2', page: '1' } });
      expect(commits.map((c) => c.message)).toEqual(['dev 3', 'dev 2']);
      expect(commits[0]).toEqual({ id: stub.commits('group/gitops')[1]?.id, message: 'dev 3', committedDate: expect.any(String), authorName: 'Administrator', authorEmail: expect.stringContaining('@') });
    });
  });

  describe('failures', () => {
    it('401: names gitlab.token, is not retryable, and never shows the token', async () => {
      const wrong = createGitlabApi({ url: stub.url, token: 'glpat-wrong-secret-value' });
      const error = await hoistFailure(wrong.setCommitStatus({ project: 'group/web', sha: SHA, state: 'running', name: 'hoist' }));
      expect(error).toMatchObject({ code: 'unauthorized', retryable: false });
      expect(error.message).toContain('GitLab rejected gitlab.token');
      expect(error.message).toMatch(/expired|revoked/);
      expect(JSON.stringify({ message: error.message, cause: String(error.cause) })).not.toContain('glpat-wrong-secret-value');
      expect(stub.requests).toHaveLength(1);
    });

    it('403: names the operation, the project and the permission the token lacks', async () => {
      stub.failNext('POST', /\/statuses\//, 403, { message: '403 Forbidden' });
      const error = await hoistFailure(api.setCommitStatus({ project: 'group/web', sha: SHA, state: 'running', name: 'hoist' }));
      expect(error).toMatchObject({ code: 'forbidden', retryable: false });
      expect(error.message).toContain('set a commit status in group/web');
      expect(error.message).toContain('`api` scope');
      expect(error.message).toContain('Developer');
      expect(error.message).not.toContain(TOKEN);

      stub.failNext('POST', /repository\/commits$/, 403, { message: '403 Forbidden' });
      const push = await hoistFailure(api.createCommit({ project: 'group/gitops', branch: 'main', message: 'm', actions: [{ action: 'create', filePath: 'x', content: 'y' }] }));
      expect(push.message).toContain('commit to main in group/gitops');
      expect(push.message).toContain('protected branches');
    });

    it('404 for a project: not found, not retryable', async () => {
      const error = await hoistFailure(api.setCommitStatus({ project: 'group/secret', sha: SHA, state: 'running', name: 'hoist' }));
      expect(error).toMatchObject({ code: 'not_found', retryable: false });
      expect(error.message).toContain('GitLab project group/secret not found or not visible to the token');
    });

    it("other 4xx: a bad request carrying GitLab's message", async () => {
      stub.failNext('POST', /\/statuses\//, 400, { message: 'Cannot transition status via :run from :running' });
      const error = await hoistFailure(api.setCommitStatus({ project: 'group/web', sha: SHA, state: 'running', name: 'hoist' }));
      expect(error).toMatchObject({ code: 'bad_request', retryable: false });
      expect(error.message).toContain('Cannot transition status via :run from :running');
    });

    it('429 and 502 are retried by gitbeaker itself: a short burst succeeds with no help from us', async () => {
      stub.failNext('GET', /merge_requests$/, 429, 'Retry later\n', 2);
      stub.failNext('GET', /merge_requests$/, 502, '<html>502 Bad Gateway</html>', 1);
      expect(await api.findOpenMergeRequest({ project: 'group/gitops', sourceBranch: 's', targetBranch: 'main' })).toBeUndefined();
      expect(stub.requests).toHaveLength(4);
    });

    it('a 429 that does not stop: gitbeaker gives up after its 10 attempts and we add none', async () => {
      stub.failNext('POST', /\/statuses\//, 429, 'Retry later\n', 100);
      const error = await hoistFailure(api.setCommitStatus({ project: 'group/web', sha: SHA, state: 'running', name: 'hoist' }));
      expect(error).toMatchObject({ code: 'unavailable', retryable: true });
      expect(stub.requests).toHaveLength(10);
    });

    it('5xx other than 502 is not retried by gitbeaker and comes back retryable', async () => {
      stub.failNext('GET', /repository\/files\//, 500, { message: '500 Internal Server Error' });
      const error = await hoistFailure(api.getFile({ project: 'group/gitops', path: 'a.yaml', ref: 'main' }));
      expect(error).toMatchObject({ code: 'unavailable', retryable: true });
      expect(error.message).toContain('500');
      expect(stub.requests).toHaveLength(1);
    });

    it('a timeout: unavailable and retryable, after one request', async () => {
      const impatient = createGitlabApi({ url: stub.url, token: TOKEN, timeoutMs: 200 });
      stub.delayNext('GET', /merge_requests\/1$/, 5_000);
      const error = await hoistFailure(impatient.getMergeRequest({ project: 'group/gitops', iid: 1 }));
      expect(error).toMatchObject({ code: 'unavailable', retryable: true });
      expect(error.message).toContain('timed out');
      expect(stub.requests).toHaveLength(1);
    });

    it('nobody listening: unavailable and retryable', async () => {
      const nowhere = createGitlabApi({ url: `http://127.0.0.1:${await closedPort()}`, token: TOKEN });
      const error = await hoistFailure(nowhere.listCommits({ project: 'group/gitops', ref: 'main' }));
      expect(error).toMatchObject({ code: 'unavailable', retryable: true });
      expect(error.message).toContain('ECONNREFUSED');
    });
  });
});
