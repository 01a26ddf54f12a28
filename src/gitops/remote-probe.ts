import { mkdir } from 'node:fs/promises';
import { createGit, toGitError, type GitSetup } from './git.js';

type ProbeResult = { ok: true } | { ok: false; reason: string };

/**
 * `git ls-remote` against the branch, remembered for a few seconds so a busy readiness probe does not
 * turn into a stream of requests to the Git server. A failure is remembered for a moment only, and nothing
 * that goes wrong on the way (a data directory that is missing or cannot be made, a git that will not start)
 * sticks: every probe after that tries again, so readiness turns green once the cause is gone.
 */
export function createRemoteProbe(setup: GitSetup & { dir: string; branch: string; cacheMs?: number; failureCacheMs?: number; timeoutMs?: number }) {
  const cacheMs = setup.cacheMs ?? 10_000;
  const failureCacheMs = Math.min(cacheMs, setup.failureCacheMs ?? 1_000);
  let last: { at: number; result: ProbeResult } | undefined;
  let inflight: Promise<ProbeResult> | undefined;
  const probe = async (): Promise<ProbeResult> => {
    try {
      // ls-remote needs no repository, but git needs a directory to start in: the data dir, made if missing.
      await mkdir(setup.dir, { recursive: true });
    } catch (error) {
      return { ok: false, reason: `cannot create the data directory ${setup.dir}: ${(error as Error).message}` };
    }
    try {
      const git = await createGit(setup.dir, setup);
      const out = await Promise.race([
        git.raw(['ls-remote', '--heads', setup.access.url, `refs/heads/${setup.branch}`]),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timed out after 5 s')), setup.timeoutMs ?? 5_000).unref()),
      ]);
      if (!out.trim()) return { ok: false, reason: `branch "${setup.branch}" not found on the GitOps remote` };
      return { ok: true };
    } catch (error) {
      return { ok: false, reason: toGitError('reaching the GitOps remote', error, setup.access).message };
    }
  };
  return async (): Promise<ProbeResult> => {
    if (last && Date.now() - last.at < (last.result.ok ? cacheMs : failureCacheMs)) return last.result;
    // The cache holds results only, never the promise: a probe that throws cannot leave a rejection behind.
    inflight ??= probe()
      .catch((error: unknown): ProbeResult => ({ ok: false, reason: `probing the GitOps remote failed: ${(error as Error).message}` }))
      .then((result) => {
        last = { at: Date.now(), result };
        return result;
      })
      .finally(() => {
        inflight = undefined;
      });
    return inflight;
  };
}
