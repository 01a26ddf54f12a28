import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createSyntheticGitops, git } from '../helpers/git-repos.js';
import { appsConfig, pipelineEvent, settled, startTestHoist, waitFor, webhookRequest } from '../helpers/hoist.js';
import { kustomizeShellCommand } from '../helpers/processes.js';
import { startWorkerFleet } from './workers.js';

/** A render command that pauses (once, when armed) so SIGTERM lands in the middle of a promotion. */
async function pausingRender(dir: string, seconds: number): Promise<string> {
  const script = join(dir, 'kustomize.sh');
  await writeFile(
    script,
    `#!/bin/sh\nif [ -f "${dir}/armed" ]; then rm -f "${dir}/armed"; touch "${dir}/reached"; sleep ${seconds}; fi\nexec ${kustomizeShellCommand()}\n`,
  );
  await chmod(script, 0o755);
  return script;
}

describe('graceful shutdown (SIGTERM mid-promotion)', () => {
  for (const [name, pause, timeout, restarts] of [
    ['lets the running promotion finish, fails readiness first, and exits 0', 2, '20s', false],
    ['hands a promotion that outlives the timeout back to the queue, where a new worker completes it once', 4, '1s', true],
  ] as const) {
    it(name, async () => {
      const gitops = await createSyntheticGitops(['web']);
      const ctl = await mkdtemp(join(tmpdir(), 'hoist-term-'));
      const withPrefix = (prefix: string) => `${appsConfig(gitops.url, ['web'])}queue: { prefix: ${prefix}, lockTimeout: 2s }\n`;
      const env = { HOIST_KUSTOMIZE: await pausingRender(ctl, pause), HOIST_SHUTDOWN_DRAIN: '500ms', HOIST_SHUTDOWN_TIMEOUT: timeout };
      const fleet = await startWorkerFleet(withPrefix, 1, { env });
      const web = await startTestHoist(withPrefix(fleet.prefix), { role: 'web', prefix: fleet.prefix });
      try {
        const worker = fleet.workers[0]!;
        await writeFile(join(ctl, 'armed'), '');
        const res = await web.app.request('/webhooks/gitlab', webhookRequest(await pipelineEvent({ project: 'group/web', id: 900, sha: '9'.repeat(40) })));
        const id = ((await res.json()) as { promotions: Array<{ id: string }> }).promotions[0]!.id;
        await waitFor(async () => (existsSync(join(ctl, 'reached')) ? true : undefined), 'the worker to be mid-render');
        const port = fleet.envOf(worker).PORT;
        worker.kill('SIGTERM');
        await waitFor(async () => ((await fetch(`http://127.0.0.1:${port}/readyz`)).status === 503 ? true : undefined), 'readiness to fail');
        expect(await worker.exited).toBe(0);
        expect(worker.output()).toMatch(restarts ? /handing them back to the queue/ : /shut down/);
        if (restarts) await fleet.restart(worker);
        expect(await settled(web, id, 30_000)).toMatchObject({ state: 'committed' });
        const landed = (await git(gitops.bare, 'log', '--format=%(trailers:key=Hoist-Promotion,valueonly)', 'main')).split('\n').filter((l) => l === id);
        expect(landed).toHaveLength(1);
      } finally {
        await web.close();
        await fleet.stop();
        await gitops.cleanup();
        await rm(ctl, { recursive: true, force: true });
      }
    }, 60_000);
  }
});
