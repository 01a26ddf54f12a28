import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { analyzeConfig, type ConfigLayout, type ConfigProblem } from '../config/index.js';
import { isHoistError } from '../errors.js';
import { KUSTOMIZATION_FILES, checkRendered, type ImageEntry, type Renderer } from '../kustomize/index.js';
import { inspectOverlay, locateRenderError } from './overlay-check.js';

/** One line of output: `file[:line[:column]]: [key path: ]message`. */
export interface Problem {
  file: string;
  line?: number;
  column?: number;
  /** Key path inside a config file, as the service reports it (`environments[1].path`). */
  path?: string;
  message: string;
}

export interface ValidationReport {
  problems: Problem[];
  /**
   * How many environments' overlays were checked (and against how many apps): every one the config names validly,
   * even when other parts of it are wrong. Undefined when it is too broken to tell (not YAML, no environment).
   */
  environments: number | undefined;
  apps: number | undefined;
}

export interface ValidateOptions {
  configPath: string;
  /** The GitOps checkout the environments' paths are relative to; printed paths start with it as given. */
  repoDir: string;
  /** Treat `${VAR}` references to unset variables as set (CI without the service's secrets). */
  allowUnsetVars?: boolean;
}

export interface ValidatorDeps {
  renderer: Renderer;
  /** What `${VAR}` in the config is filled from: the environment, as the service would see it. */
  vars: Readonly<Record<string, string | undefined>>;
}

export interface Validator {
  validate(options: ValidateOptions): Promise<ValidationReport>;
}

/** kustomize runs as a child process per overlay; a repo with dozens of environments must not start them all at once. */
const RENDER_CONCURRENCY = 4;
/** The reference grammar of config/load.ts: `${NAME}`, with `$${` as the escape. */
const REFERENCE = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

export function formatProblem(problem: Problem): string {
  const where = `${problem.file}${problem.line !== undefined ? `:${problem.line}` : ''}${problem.column !== undefined ? `:${problem.column}` : ''}`;
  return `${where}: ${problem.path !== undefined ? `${problem.path}: ` : ''}${problem.message}`;
}

function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? '' : 's'}`;
}

export function formatSummary(report: ValidationReport): string {
  const { problems, environments, apps } = report;
  if (problems.length === 0) return `ok: ${plural(environments ?? 0, 'environment')}, ${plural(apps ?? 0, 'app')}, all overlays render`;
  const scope = environments === undefined ? 'the config is invalid, so its overlays were not checked' : `${plural(environments, 'environment')}, ${plural(apps ?? 0, 'app')} checked`;
  return `failed: ${plural(problems.length, 'problem')} (${scope})`;
}

export function createValidator(deps: ValidatorDeps): Validator {
  return {
    async validate(options) {
      const { configPath, repoDir } = options;
      let text: string;
      try {
        text = await readFile(configPath, 'utf8');
      } catch (error) {
        return { problems: [{ file: configPath, message: `cannot read the config file: ${(error as Error).message}` }], environments: undefined, apps: undefined };
      }
      // The service's own loader, so a config that passes here loads there; it reports every stage's problems at once.
      const analysis = analyzeConfig(text, deps.vars);
      const problems = toProblems(configPath, options.allowUnsetVars === true ? analysis.problems.filter((p) => p.unsetVariable === undefined) : analysis.problems);
      const layout = analysis.layout;
      if (layout === undefined || layout.environments.length === 0) return { problems, environments: undefined, apps: undefined };

      const repoIsDir = await stat(repoDir).then((s) => s.isDirectory(), () => false);
      if (!repoIsDir) {
        problems.push({ file: repoDir, message: 'the GitOps repository checkout (--repo) is not a directory' });
        return { problems, environments: layout.environments.length, apps: layout.apps.length };
      }
      const renderer = memoized(deps.renderer);
      const locate = configLocator(text);
      const perEnvironment = await mapLimited(layout.environments, RENDER_CONCURRENCY, (env) =>
        checkEnvironment({ env, repoDir, apps: layout.apps, renderer, configPath, where: () => locate(['environments', env.index, 'path']), pathKey: `environments[${env.index}].path` }),
      );
      problems.push(...perEnvironment.flat());
      return { problems, environments: layout.environments.length, apps: layout.apps.length };
    },
  };
}

function toProblems(file: string, problems: readonly ConfigProblem[]): Problem[] {
  return problems
    .map((p): Problem => ({ file, line: p.line, column: p.column, path: p.path, message: p.message }))
    .sort((a, b) => (a.line ?? Number.MAX_SAFE_INTEGER) - (b.line ?? Number.MAX_SAFE_INTEGER) || (a.column ?? 0) - (b.column ?? 0));
}

/** Where a key path sits in the config text, for problems found after the config loaded. */
function configLocator(text: string): (path: readonly (string | number)[]) => { line?: number; column?: number } {
  const lines = new LineCounter();
  // `${VAR}` inside a flow map is not YAML; config/load.ts swaps it for a same-length marker before parsing.
  const marked = text.replace(REFERENCE, (match, name: string | undefined) => (name === undefined ? match : `$\u00ab${name}\u00bb`));
  const doc = parseDocument(marked, { lineCounter: lines });
  return (path) => {
    const node = doc.getIn(path, true) as { range?: [number, number, number] } | undefined;
    if (!node?.range) return {};
    const pos = lines.linePos(node.range[0]);
    return { line: pos.line, column: pos.col };
  };
}

/** Results in input order, at most `limit` calls in flight. */
async function mapLimited<T, R>(items: readonly T[], limit: number, run: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await run(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}

/** Each overlay is rendered once, however many entries are checked against it. */
function memoized(renderer: Renderer): Renderer {
  const renders = new Map<string, Promise<string>>();
  return {
    render(overlayDir) {
      let rendered = renders.get(overlayDir);
      if (rendered === undefined) {
        rendered = renderer.render(overlayDir);
        renders.set(overlayDir, rendered);
      }
      return rendered;
    },
  };
}

interface EnvironmentCheck {
  env: ConfigLayout['environments'][number];
  apps: ConfigLayout['apps'];
  repoDir: string;
  renderer: Renderer;
  configPath: string;
  pathKey: string;
  where: () => { line?: number; column?: number };
}

async function checkEnvironment(check: EnvironmentCheck): Promise<Problem[]> {
  const { env, apps, repoDir, renderer } = check;
  const overlayDir = join(repoDir, env.path);
  const atConfig = (message: string): Problem[] => [{ file: check.configPath, ...check.where(), path: check.pathKey, message }];

  const isDir = await stat(overlayDir).then((s) => s.isDirectory(), () => false);
  if (!isDir) return atConfig(`environment "${env.name}": overlay directory ${overlayDir} does not exist`);
  let file: string | undefined;
  let text: string | undefined;
  for (const name of KUSTOMIZATION_FILES) {
    text = await readFile(join(overlayDir, name), 'utf8').catch(() => undefined);
    if (text !== undefined) {
      file = join(overlayDir, name);
      break;
    }
  }
  if (file === undefined || text === undefined) {
    return atConfig(`environment "${env.name}": overlay directory ${overlayDir} has no ${KUSTOMIZATION_FILES.join(', ')}`);
  }
  const overlayFile = file;
  const at = (line: number | undefined, message: string, column?: number): Problem => ({ file: overlayFile, line, column, message });

  const inspection = inspectOverlay(text, apps.map((app) => ({ app: app.name, image: app.image })));
  const problems = inspection.problems.map((p) => at(p.line, p.message, p.column));
  if (!inspection.renderable) return problems;

  try {
    await renderer.render(overlayDir);
  } catch (error) {
    const reason = renderFailure(error);
    problems.push(at(locateRenderError(text, reason, overlayDir), `kustomize cannot render this overlay: ${reason}`));
    return problems;
  }
  for (const { app, entry, line } of inspection.entries) {
    const outcome = await renderedOutcome(renderer, overlayDir, entry);
    if (outcome.kind === 'failed') problems.push(at(line, outcome.reason));
    if (outcome.kind !== 'missing') continue;
    problems.push(
      at(
        line,
        `no container in the rendered overlay runs ${outcome.expected} (images found: ${outcome.found}): the images entry of app "${app}" ` +
          `has no effect, and every promotion of "${app}" to "${env.name}" would fail its render check. No container uses ${entry.name}, ` +
          "or a base's newName renames it before this entry can match",
      ),
    );
  }
  for (const { app, image } of inspection.unlisted) {
    // An entry with only a name matches a container running the image with any tag.
    const outcome = await renderedOutcome(renderer, overlayDir, { name: image });
    if (outcome.kind === 'failed') problems.push(at(inspection.imagesLine, outcome.reason));
    if (outcome.kind !== 'missing') continue;
    problems.push(
      at(
        inspection.imagesLine,
        `no images entry for ${image} (app "${app}") and no container in the rendered overlay uses that image (images found: ${outcome.found}): ` +
          `Hoist would add an entry, and every promotion of "${app}" to "${env.name}" would fail its render check`,
      ),
    );
  }
  return problems.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
}

type RenderedOutcome = { kind: 'rendered' } | { kind: 'missing'; expected: string; found: string } | { kind: 'failed'; reason: string };

async function renderedOutcome(renderer: Renderer, overlayDir: string, entry: ImageEntry): Promise<RenderedOutcome> {
  try {
    await checkRendered(renderer, overlayDir, [entry]);
    return { kind: 'rendered' };
  } catch (error) {
    if (!isHoistError(error)) throw error;
    // The render itself already succeeded; what is left is output the check cannot read.
    if (error.code !== 'image_not_rendered') return { kind: 'failed', reason: `the render check failed: ${error.message}` };
    const expected = error.details?.expected;
    const found = error.details?.found;
    return {
      kind: 'missing',
      expected: Array.isArray(expected) ? expected.join(', ') : entry.name,
      found: Array.isArray(found) && found.length > 0 ? found.join(', ') : 'none',
    };
  }
}

/** kustomize's own words, without kubectl's log prefix or the renderer's command line around them. */
function renderFailure(error: unknown): string {
  if (!isHoistError(error)) return error instanceof Error ? error.message : String(error);
  const stderr = error.details?.stderr;
  const text = typeof stderr === 'string' && stderr !== '' ? stderr : error.message;
  return text
    .split('\n')
    .map((line) =>
      line
        .replace(/^[EWIF]\d{4} [\d:.]+\s+\d+ [^\]]+\] "command failed" err=/, '')
        .replace(/^Error: /, '')
        .trim(),
    )
    .filter((line) => line !== '' && line !== '<' && line !== '>')
    // kubectl quotes the error (err="…"), and the renderer may have cut it short before the closing quote.
    .map((line) => (line.startsWith('"') ? line.slice(1).replace(/"$/, '').replace(/\\"/g, '"') : line))
    .join(' ');
}
