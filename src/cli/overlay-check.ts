import { resolve } from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseAllDocuments, visit } from 'yaml';
import type { Document, Node as YamlNode } from 'yaml';
import { isHoistError } from '../errors.js';
import { checkKustomizationSize, readImages, setImage, type ImageEntry } from '../kustomize/index.js';

export interface OverlayApp {
  app: string;
  image: string;
}

export interface OverlayFinding {
  line?: number;
  column?: number;
  message: string;
}

export interface OverlayInspection {
  /** False when the file is not YAML: a render would only report the same problem again. */
  renderable: boolean;
  problems: OverlayFinding[];
  /** Apps with exactly one entry Hoist can edit: the rendered overlay must run that image. */
  entries: { app: string; entry: ImageEntry; line?: number }[];
  /** Apps with no entry: Hoist would append one, so some container must at least use the image. */
  unlisted: OverlayApp[];
  /** Line of the `images:` key, where problems without an entry of their own are reported. */
  imagesLine?: number;
}

/** Any valid OCI tag: only whether setImage could edit the file matters, not the value. */
const PROBE_TAG = 'hoist-validate';

/**
 * What Hoist would meet in one overlay's kustomization text for the given apps, with the line of each
 * finding: the same editor (setImage) decides whether an entry can be set, so a file that passes here is
 * one the worker can edit.
 */
export function inspectOverlay(text: string, apps: readonly OverlayApp[]): OverlayInspection {
  try {
    // Before any parsing: the worker refuses such a file without reading it, and so does this check.
    checkKustomizationSize(text);
  } catch (error) {
    if (!isHoistError(error)) throw error;
    return { renderable: false, problems: [{ line: 1, message: `Hoist cannot read this kustomization: ${error.message}` }], entries: [], unlisted: [] };
  }
  const lines = new LineCounter();
  const docs: Document.Parsed[] = [...parseAllDocuments(text, { lineCounter: lines, prettyErrors: false })];
  const yamlErrors = docs.flatMap((doc) => doc.errors);
  if (yamlErrors.length > 0) {
    return {
      renderable: false,
      problems: yamlErrors.map((error) => {
        const pos = lines.linePos(error.pos[0]);
        return { line: pos.line, column: pos.col, message: `not valid YAML: ${error.message.split('\n')[0] ?? error.message}` };
      }),
      entries: [],
      unlisted: [],
    };
  }

  const lineOf = (node: YamlNode | null | undefined): number | undefined => (node?.range ? lines.linePos(node.range[0]).line : undefined);
  const root = docs.map((doc) => doc.contents).find((contents) => isMap(contents));
  const imagesPair = isMap(root) ? root.items.find((pair) => isScalar(pair.key) && pair.key.value === 'images') : undefined;
  const imagesLine = lineOf(imagesPair?.key as YamlNode | undefined);
  // Lines of the items as written; an aliased sequence has none of its own, and the `images:` line stands in.
  const itemLines = isSeq(imagesPair?.value)
    ? imagesPair.value.items.map((item) => {
        const nameKey = isMap(item) ? item.items.find((pair) => isScalar(pair.key) && pair.key.value === 'name')?.key : undefined;
        return lineOf(nameKey as YamlNode | undefined) ?? lineOf(item as YamlNode);
      })
    : [];

  let entries: ImageEntry[];
  try {
    entries = readImages(text);
  } catch (error) {
    if (!isHoistError(error)) throw error;
    return { renderable: true, problems: [{ line: imagesLine, message: `Hoist cannot read this kustomization: ${error.message}` }], entries: [], unlisted: [], imagesLine };
  }

  const problems: OverlayFinding[] = [];
  const found: OverlayInspection['entries'] = [];
  const unlisted: OverlayApp[] = [];
  for (const { app, image } of apps) {
    const indexes = entries.flatMap((entry, index) => (entry.name === image ? [index] : []));
    const entryLine = (index: number | undefined): number | undefined => (index === undefined ? undefined : itemLines[index]) ?? imagesLine;
    if (indexes.length > 1) {
      const where = indexes.map((index) => `images[${index}]${itemLines[index] !== undefined ? ` (line ${itemLines[index]})` : ''}`);
      problems.push({
        line: entryLine(indexes[1]),
        message:
          `${image} (app "${app}") is listed ${indexes.length} times: ${where.join(', ')}. ` +
          'kustomize applies only one of them and Hoist refuses to edit the file; keep one entry',
      });
      continue;
    }
    try {
      setImage(text, { name: image, tag: PROBE_TAG });
    } catch (error) {
      if (!isHoistError(error)) throw error;
      problems.push({ line: entryLine(indexes[0]), message: `Hoist cannot set the tag of ${image} (app "${app}") here: ${error.message}` });
      continue;
    }
    const index = indexes[0];
    const entry = index === undefined ? undefined : entries[index];
    if (index !== undefined && entry !== undefined) found.push({ app, entry, line: entryLine(index) });
    else unlisted.push({ app, image });
  }
  return { renderable: true, problems, entries: found, unlisted, imagesLine };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * The line of the kustomization that a kustomize error is about, when the error names something written
 * there: a quoted value (`'missing.yaml'`), a relative path it resolved against the overlay directory
 * (`/…/overlays/dev/patch.yaml`), or an unknown field (`unknown field "namePrefx"`).
 */
export function locateRenderError(text: string, reason: string, overlayDir: string): number | undefined {
  const lines = new LineCounter();
  const docs = [...parseAllDocuments(text, { lineCounter: lines })];
  const mentions = (value: string): boolean => {
    if (value === '' || /[\r\n]/.test(value)) return false;
    if (reason.includes(`'${value}'`)) return true;
    // A path must end where the value ends: /…/dev/web must not match /…/dev/web.yaml.
    return new RegExp(`${escapeRegExp(resolve(overlayDir, value))}(?![\\w.-])`).test(reason);
  };
  let found: number | undefined;
  for (const doc of docs) {
    visit(doc, {
      Pair(_key, pair) {
        if (isScalar(pair.key) && typeof pair.key.value === 'string' && pair.key.range && reason.includes(`unknown field "${pair.key.value}"`)) {
          found = lines.linePos(pair.key.range[0]).line;
          return visit.BREAK;
        }
        return undefined;
      },
      Scalar(key, node) {
        if (key !== 'key' && typeof node.value === 'string' && node.range && mentions(node.value)) {
          found = lines.linePos(node.range[0]).line;
          return visit.BREAK;
        }
        return undefined;
      },
    });
    if (found !== undefined) break;
  }
  return found;
}
