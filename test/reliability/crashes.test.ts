import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createSyntheticGitops, git } from '../helpers/git-repos.js';
import { kustomizeShellCommand } from '../helpers/processes.js';
import { appsConfig, pipelineEvent, settled, startTestHoist, waitFor, webhookRequest } from '../helpers/hoist.js';
import { recordFigures } from './figures.js';
import { startWorkerFleet } from './workers.js';

type CrashPoint = 'render' | 'commit' | 'push';

/**
 * Real stopping points inside a write, no test hooks in the service: the render command (after the edit),
 * git's pre-push hook in the working clone (after the signed commit is built and written, before anything is
 * sent) and the remote's pre-receive hook (during the push). Each waits once when armed, so the test can
 * SIGKILL the worker right there.
 */
async function crashPoints(ctl: string): Promise<{ env: Record<string, string> }> {
  const hooks = join(ctl, 'hooks');
  await mkdir(hooks, { recursive: true });
  const pause = (point: CrashPoint, seconds: number) =>
    `if [ -f "${ctl}/armed-${point}" ]; then rm -f "${ctl}/armed-${point}"; touch "${ctl}/reached-${point}"; sleep ${seconds}; fi\n`;
  await writeFile(join(ctl, 'kustomize.sh'), `#!/bin/sh\n${pause('render', 20)}exec ${kustomizeShellCommand()}\n`);
  await writeFile(join(hooks, 'pre-push'), `#!/bin/sh\ncat >/dev/null\n${pause('commit', 20)}exit 0\n`);
  // The orphaned push finishes after the kill: the restarted worker must notice it landed.
  await writeFile(join(hooks, 'pre-receive'), `#!/bin/sh\ncat >/dev/null\n${pause('push', 1)}exit 0\n`);
  for (const f of ['kustomize.sh', 'hooks/pre-push', 'hooks/pre-receive']) await chmod(join(ctl, f), 0o755);
  await writeFile(join(ctl, 'gitconfig'), `[core]\n\thooksPath = ${hooks}\n`);
  return { env: { HOIST_KUSTOMIZE: join(ctl, 'kustomize.sh'), GIT_CONFIG_GLOBAL: join(ctl, 'gitconfig') } };
}

describe('crashes: kill -9 of a worker in the middle of a write', () => {
  it('20 kills after the edit, after the commit and during the push: every promotion ends committed exactly once', async () => {
    const gitops = await createSyntheticGitops(['web']);
    const ctl = await mkdtemp(join(tmpdir(), 'hoist-crash-'));
    const { env } = await crashPoints(ctl);
    const withPrefix = (prefix: string) => `${appsConfig(gitops.url, ['web'])}queue: { prefix: ${prefix}, lockTimeout: 2s }\n`;
    const fleet = await startWorkerFleet(withPrefix, 1, { env });
    const web = await startTestHoist(withPrefix(fleet.prefix), { role: 'web', prefix: fleet.prefix });
    const points: CrashPoint[] = ['render', 'commit', 'push'];
    let worker = fleet.workers[0]!;
    let crashes = 0;
    const ids: string[] = [];
    try {
      for (let i = 0; i < 20; i++) {
        const point = points[i % points.length]!;
        await writeFile(join(ctl, `armed-${point}`), '');
        const res = await web.app.request('/webhooks/gitlab', webhookRequest(await pipelineEvent({ project: 'group/web', id: 500 + i, sha: `${i}`.padStart(40, 'a') })));
        expect(res.status).toBe(202);
        const id = ((await res.json()) as { promotions: Array<{ id: string }> }).promotions[0]!.id;
        ids.push(id);
        await waitFor(async () => (existsSync(join(ctl, `reached-${point}`)) ? true : undefined), `the worker to reach ${point}`);
        worker.kill('SIGKILL');
        await worker.exited;
        crashes++;
        await rm(join(ctl, `reached-${point}`));
        worker = await fleet.restart(worker);
        const final = await settled(web, id, 60_000);
        expect(final, `promotion ${i} (killed at ${point})`).toMatchObject({ state: 'committed', tag: `p${500 + i}` });
        const landed = (await git(gitops.bare, 'log', '--format=%(trailers:key=Hoist-Promotion,valueonly)', 'main')).split('\n').filter((l) => l === id);
        expect(landed, `commits carrying ${id}`).toHaveLength(1);
        expect(final.commit).toBe((await git(gitops.bare, 'log', '--format=%H', '-n1', `--grep=Hoist-Promotion: ${id}`, 'main')).trim());
      }
      const all = (await git(gitops.bare, 'log', '--format=%(trailers:key=Hoist-Promotion,valueonly)', 'main')).split('\n').filter(Boolean);
      expect(all.sort()).toEqual([...ids].sort());
      expect(await git(gitops.bare, 'show', 'main:overlays/dev/kustomization.yaml')).toContain('newTag: "p519"');
      recordFigures('crashes (kill -9 after edit / after commit / during push)', { events: 20, crashes, committed: ids.length, skipped: 0, failed: 0, commits: all.length, lost: ids.filter((id) => !all.includes(id)).length, duplicated: all.length - new Set(all).size });
    } finally {
      await web.close();
      await fleet.stop();
      await gitops.cleanup();
      await rm(ctl, { recursive: true, force: true });
    }
  }, 300_000);
});
