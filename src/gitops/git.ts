import { spawn } from 'node:child_process';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { simpleGit, type SimpleGit } from 'simple-git';
import { HoistError } from '../errors.js';

/** A remote URL split into what may be stored in .git/config and what must only reach git's askpass. */
export interface RemoteAccess {
  /** The URL without credentials: safe for .git/config, logs and errors. */
  url: string;
  username?: string | undefined;
  password?: string | undefined;
}

export function splitCredentials(rawUrl: string): RemoteAccess {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(rawUrl)) return { url: rawUrl };
  try {
    const parsed = new URL(rawUrl);
    if (!parsed.username && !parsed.password) return { url: rawUrl };
    const username = decodeURIComponent(parsed.username) || undefined;
    const password = decodeURIComponent(parsed.password) || undefined;
    parsed.username = '';
    parsed.password = '';
    return { url: parsed.href, username, password };
  } catch {
    return { url: rawUrl };
  }
}

/** Removes anything that looks like credentials from git's output before it reaches a message. */
export function redactGitOutput(text: string, access?: RemoteAccess): string {
  let out = text.replace(/(\b[a-z][a-z0-9+.-]*:\/\/)[^@/\s]*@/gi, '$1***@');
  // The password only: a username is no secret, and hiding it would mangle paths that contain it.
  const secret = access?.password;
  if (secret && secret.length >= 4) out = out.split(secret).join('***');
  return out;
}

const ASKPASS = `#!/bin/sh
# Hoist's askpass: answers git from the environment so credentials never sit in .git/config.
case "$1" in
  Username*) printf '%s\\n' "$HOIST_GIT_USERNAME" ;;
  *) printf '%s\\n' "$HOIST_GIT_PASSWORD" ;;
esac
`;

/** git for non-interactive use: C.UTF-8 messages we can classify, no prompts, credentials via askpass. */
export interface GitSetup {
  access: RemoteAccess;
  /** Where the askpass helper lives (inside HOIST_DATA_DIR: the root filesystem may be read-only). */
  toolsDir: string;
  /** PATH, HOME and git's own config isolation, handed down from config/. */
  baseEnv: Readonly<Record<string, string>>;
  author?: { name: string; email: string };
}

/** The environment every git process of ours runs with (written once per workspace: it may create the askpass file). */
async function gitEnvironment(setup: GitSetup): Promise<Record<string, string>> {
  const { access, toolsDir, author } = setup;
  const env: Record<string, string> = {
    ...setup.baseEnv,
    LC_ALL: 'C.UTF-8',
    LANG: 'C.UTF-8',
    GIT_TERMINAL_PROMPT: '0',
    GIT_SSH_COMMAND: 'ssh -o BatchMode=yes -o ConnectTimeout=10',
    // A stalled HTTP transfer (under 1 KB/s for 30 s) fails instead of holding the repo's write lock.
    GIT_HTTP_LOW_SPEED_LIMIT: '1000',
    GIT_HTTP_LOW_SPEED_TIME: '30',
  };
  if (author) {
    env.GIT_AUTHOR_NAME = author.name;
    env.GIT_AUTHOR_EMAIL = author.email;
    env.GIT_COMMITTER_NAME = author.name;
    env.GIT_COMMITTER_EMAIL = author.email;
  }
  if (access.username !== undefined || access.password !== undefined) {
    await mkdir(toolsDir, { recursive: true });
    const askpass = join(toolsDir, 'askpass.sh');
    await writeFile(askpass, ASKPASS);
    await chmod(askpass, 0o700);
    env.GIT_ASKPASS = askpass;
    env.HOIST_GIT_USERNAME = access.username ?? '';
    env.HOIST_GIT_PASSWORD = access.password ?? '';
  }
  return env;
}

export async function createGit(baseDir: string, setup: GitSetup): Promise<SimpleGit> {
  const env = await gitEnvironment(setup);
  return simpleGit({
    baseDir,
    maxConcurrentProcesses: 4,
    timeout: { block: 120_000 },
    // These environment settings are ours (askpass, ssh batch mode, config isolation), never user input.
    unsafe: { allowUnsafeAskPass: true, allowUnsafeSshCommand: true, allowUnsafeConfigPaths: true },
    allowEnvironment: Object.keys(env),
  }).env(env);
}

/** A git process that prints nothing for this long is stuck (a stalled transfer, a lock): it is killed. */
const GIT_IDLE_TIMEOUT_MS = 120_000;

/** git on the hot path: one process per call and nothing else (no option parsing, no waiting after exit). */
export interface GitRunner {
  /** Runs `git <args>` in the repository; resolves with stdout, rejects with git's own message (C locale). */
  run(args: readonly string[]): Promise<string>;
  /** The same with `input` on stdin and stdout as bytes (`cat-file --batch` counts its sizes in bytes). */
  runBytes(args: readonly string[], input: string): Promise<Buffer>;
}

export async function createGitRunner(baseDir: string, setup: GitSetup): Promise<GitRunner> {
  const env = await gitEnvironment(setup);
  return {
    run: async (args) => (await runGit(baseDir, env, args)).toString('utf8'),
    runBytes: (args, input) => runGit(baseDir, env, args, input),
  };
}

function runGit(cwd: string, env: Record<string, string>, args: readonly string[], input?: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', args, { cwd, env, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    if (input !== undefined) {
      child.stdin?.on('error', () => undefined); // git may exit before reading it all; the exit code tells
      child.stdin?.end(input);
    }
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let idle = false;
    const timer = setTimeout(() => {
      idle = true;
      child.kill('SIGKILL');
    }, GIT_IDLE_TIMEOUT_MS);
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout.push(chunk);
      timer.refresh();
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr.push(chunk);
      timer.refresh();
    });
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const out = Buffer.concat(stdout);
      if (code === 0) {
        resolve(out);
        return;
      }
      // `push --porcelain` says why a ref was refused on stdout (`!<TAB>ref<TAB>[rejected] (stale info)`).
      const refused = out.toString('utf8').split('\n').filter((line) => line.startsWith('!\t'));
      const err = [...refused, Buffer.concat(stderr).toString('utf8').trim()].filter(Boolean).join('\n');
      const sub = args.find((a) => !a.startsWith('-') && !a.includes('=')) ?? '';
      const why = idle ? `timed out: no output for ${GIT_IDLE_TIMEOUT_MS / 1000} s` : signal ? `killed by ${signal}` : `exited with code ${String(code)}`;
      reject(new Error(idle ? `git ${sub} ${why}` : err || out.toString('utf8').trim() || `git ${sub} ${why}`));
    });
  });
}

export type GitFailure = 'rejected_non_fast_forward' | 'auth' | 'protected' | 'unreachable' | 'missing_branch' | 'locked' | 'disk_full' | 'corrupt' | 'other';

/**
 * The clone itself is broken (git's own fsck-level words): only deleting it and cloning again helps. Remote-side
 * transfer failures (early EOF, index-pack on a cut connection) are not in this list: they are `unreachable`.
 */
const CORRUPT =
  /object file .* is empty|loose object .* is corrupt|packed object .* is corrupt|inflate: data stream error|unable to unpack .* header|bad object|packfile .* (does not match index|cannot be accessed)|index file (corrupt|smaller than expected)|bad signature 0x|unable to read tree|unable to read [0-9a-f]{40}|could not read [0-9a-f]{40}|missing (blob|tree|commit) [0-9a-f]{40}|not a git repository|does not point to a valid object|current branch appears to be broken|invalid sha1 pointer|bad index file|corrupt (loose|packed|index)|broken link from/;

/** Sorts git's error text into what the caller can act on; messages are git's C-locale ones. */
export function classifyGitFailure(message: string): GitFailure {
  const m = message.toLowerCase();
  // Local and transient: a lock file left by a git process that died (removed at the next sync), or a full disk.
  if (/unable to create '[^']*\.lock': file exists|another git process seems to be running/.test(m)) return 'locked';
  if (/no space left on device|disk quota exceeded|enospc|edquot/.test(m)) return 'disk_full';
  if (CORRUPT.test(m)) return 'corrupt';
  if (/\(fetch first\)|\(non-fast-forward\)|updates were rejected because|stale info|cannot lock ref|incorrect old value/.test(m)) return 'rejected_non_fast_forward';
  if (/authentication failed|could not read username|could not read password|permission denied|http basic: access denied|returned error: 40[13]|invalid username or password|access denied/.test(m)) return 'auth';
  if (/protected branch|pre-receive hook declined|\[remote rejected\]|hook declined/.test(m)) return 'protected';
  if (/couldn't find remote ref|remote branch .* not found|no such ref was fetched/.test(m)) return 'missing_branch';
  if (/could not resolve host|connection refused|connection timed out|timed out|network is unreachable|unable to access|could not read from remote repository|does not appear to be a git repository|early eof|the remote end hung up|failed to connect|operation timed out|returned error: 5\d\d|ssl|tls/.test(m)) return 'unreachable';
  return 'other';
}

/** Turns a git failure into a HoistError that names the cause and says whether retrying can help. */
export function toGitError(action: string, error: unknown, access?: RemoteAccess): HoistError {
  const raw = error instanceof Error ? error.message : String(error);
  const detail = redactGitOutput(raw, access).trim().split('\n').filter(Boolean).slice(0, 6).join(' | ');
  const kind = classifyGitFailure(raw);
  const where = access ? ` (${redactGitOutput(access.url, access)})` : '';
  const details = { gitFailure: kind };
  switch (kind) {
    case 'rejected_non_fast_forward':
      return new HoistError('git_transient', `${action} failed: the GitOps branch moved meanwhile: ${detail}`, { retryable: true, details });
    case 'auth':
      return new HoistError('git_auth', `${action} failed: the GitOps remote${where} refused our credentials: ${detail}`, { retryable: false, details });
    case 'protected':
      return new HoistError('git_rejected', `${action} failed: the GitOps remote${where} rejected the push (protected branch or server hook): ${detail}`, { retryable: false, details });
    case 'missing_branch':
      return new HoistError('git_rejected', `${action} failed: the branch does not exist on the GitOps remote${where}: ${detail}`, { retryable: false, details });
    case 'unreachable':
      return new HoistError('git_transient', `${action} failed: the GitOps remote${where} could not be reached: ${detail}`, { retryable: true, details });
    case 'locked':
      return new HoistError('git_transient', `${action} failed: a lock file in Hoist's working clone is in the way (left by a git process that died; removed before the next try): ${detail}`, { retryable: true, details });
    case 'disk_full':
      return new HoistError('git_transient', `${action} failed: no space left in HOIST_DATA_DIR (the working clone's disk is full; retried): ${detail}`, { retryable: true, details });
    case 'corrupt':
      return new HoistError('git_transient', `${action} failed: Hoist's working clone is damaged (it is deleted and cloned again): ${detail}`, { retryable: true, details });
    default:
      return new HoistError('git_transient', `${action} failed: ${detail}`, { retryable: true, details });
  }
}
