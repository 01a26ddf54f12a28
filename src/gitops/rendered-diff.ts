import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A unified diff of two renders, as reviewers read it in a merge request. `git diff --no-index` is the
 * diff engine git itself uses; it exits 1 when the files differ, which is the normal case here.
 */
export async function renderedDiff(before: string, after: string, label: string, env: NodeJS.ProcessEnv): Promise<string> {
  if (before === after) return '';
  const dir = await mkdtemp(join(tmpdir(), 'hoist-diff-'));
  try {
    await writeFile(join(dir, 'before'), before);
    await writeFile(join(dir, 'after'), after);
    const output = await new Promise<string>((resolve, reject) => {
      execFile(
        'git',
        ['diff', '--no-index', '--no-color', '--unified=3', '--', 'before', 'after'],
        { cwd: dir, env, maxBuffer: 64 * 1024 * 1024 },
        (error, stdout) => {
          if (error && error.code !== 1) reject(error);
          else resolve(stdout);
        },
      );
    });
    // git's header names the temp files; name the overlay instead.
    return output
      .replace(/^diff --git .*\n(?:index .*\n)?/m, '')
      .replace(/^--- .*$/m, `--- ${label} (before)`)
      .replace(/^\+\+\+ .*$/m, `+++ ${label} (after)`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
