import { createGit, toGitError, type GitSetup } from './git.js';

/**
 * `git ls-remote` against the branch, remembered for a few seconds so a busy readiness probe does not
 * turn into a stream of requests to the Git server.
 */
export function createRemoteProbe(setup: GitSetup & { dir: string; branch: string; cacheMs?: number; timeoutMs?: number }) {
  const cacheMs = setup.cacheMs ?? 10_000;
  let last: { at: number; result: { ok: true } | { ok: false; reason: string } } | undefined;
  let inflight: Promise<{ ok: true } | { ok: false; reason: string }> | undefined;
  const probe = async (): Promise<{ ok: true } | { ok: false; reason: string }> => {
    const git = await createGit(setup.dir, setup);
    try {
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
  return async () => {
    if (last && Date.now() - last.at < cacheMs) return last.result;
    inflight ??= probe().then((result) => {
      last = { at: Date.now(), result };
      inflight = undefined;
      return result;
    });
    return inflight;
  };
}
