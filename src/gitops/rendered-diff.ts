import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { redactSecrets } from '../kustomize/redact-secrets.js';

/**
 * The key of the hashes that stand in for Secret values. Random and never stored, so a hash cannot be
 * checked against a guessed value anywhere else; the same for every diff of this process, so one value
 * reads the same across the diffs it shows. Immutable, hence shared by every writer in the process.
 */
const REDACTION_KEY = randomBytes(32);

/**
 * A unified diff of two renders, as reviewers read it in a merge request. `git diff --no-index` is the
 * diff engine git itself uses; it exits 1 when the files differ, which is the normal case here. Secret
 * values are replaced by keyed hashes first (`redactSecrets`): a diff leaves Hoist, Secret data never does.
 */
export async function renderedDiff(
  beforeRender: string,
  afterRender: string,
  label: string,
  env: NodeJS.ProcessEnv,
  options: { redactionKey?: Uint8Array } = {},
): Promise<string> {
  if (beforeRender === afterRender) return '';
  const key = options.redactionKey ?? REDACTION_KEY;
  const before = await redactSecrets(beforeRender, key);
  const after = await redactSecrets(afterRender, key);
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
