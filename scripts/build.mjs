#!/usr/bin/env node
// `npm run build`: src/**/*.ts and *.tsx (not tests) → dist/, one .js (and .js.map) per file with esbuild, the directory
// layout kept (dist/main.js, dist/cli/hoist.js), files under src/**/assets/ copied beside them, and whatever
// else is in dist/ removed. A transpile, not a compile: it takes a fraction of a second, so `npm start` starts
// serving at once. Types are checked by `npm run typecheck` (and CI), not here.
import { build, stop } from 'esbuild';
import { chmod, copyFile, mkdir, readdir, readFile, rm, rmdir } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const srcDir = join(root, 'src');
const outDir = join(root, 'dist');

async function listFiles(dir) {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true }).catch((error) => {
    if (error.code === 'ENOENT') return [];
    throw error;
  });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

const sources = await listFiles(srcDir);
const isTypeScript = (file) => /\.tsx?$/.test(file);
// TypeScript under assets/ (a board's client script, say) is transpiled like the rest; everything else there is copied.
const isAsset = (file) => !isTypeScript(file) && relative(srcDir, file).split(sep).slice(0, -1).includes('assets');
const entryPoints = sources.filter((f) => isTypeScript(f) && !/\.test\.tsx?$/.test(f) && !f.endsWith('.d.ts'));
const assets = sources.filter(isAsset);

const result = await build({
  entryPoints,
  outdir: outDir,
  outbase: srcDir,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  // One file per file: imports stay as written (`./x.js`), and resolve in dist/ as they do for tsc's output.
  bundle: false,
  // The compiler options that change emitted code (verbatimModuleSyntax, class fields, jsx for hono/jsx) come from here.
  tsconfig: join(root, 'tsconfig.json'),
  absWorkingDir: root,
  logLevel: 'warning',
  metafile: true,
});
// The esbuild service process is not needed for the copying below; ending it now leaves nothing behind.
await stop();

await Promise.all(
  assets.map(async (file) => {
    const target = join(outDir, relative(srcDir, file));
    await mkdir(dirname(target), { recursive: true });
    await copyFile(file, target);
  }),
);

// The bin is run directly: esbuild keeps the shebang, the mode is ours to set.
await Promise.all(
  entryPoints.map(async (file) => {
    const text = await readFile(file, 'utf8');
    if (text.startsWith('#!')) await chmod(join(outDir, relative(srcDir, file)).replace(/\.tsx?$/, '.js'), 0o755);
  }),
);

// Stale outputs: a deleted or renamed source must not leave a module behind that still imports or runs.
const wanted = new Set([...Object.keys(result.metafile.outputs).map((p) => join(root, p)), ...assets.map((f) => join(outDir, relative(srcDir, f)))]);
const stale = (await listFiles(outDir)).filter((file) => !wanted.has(file));
await Promise.all(stale.map((file) => rm(file, { force: true })));
// Directories left empty, deepest first.
const dirs = (await readdir(outDir, { withFileTypes: true, recursive: true }))
  .filter((e) => e.isDirectory())
  .map((e) => join(e.parentPath, e.name))
  .sort((a, b) => b.length - a.length);
for (const dir of dirs) await rmdir(dir).catch(() => undefined);

process.stdout.write(`build: ${entryPoints.length} modules${assets.length > 0 ? `, ${assets.length} assets` : ''} → ${relative(root, outDir)}/${stale.length > 0 ? ` (${stale.length} stale files removed)` : ''}\n`);
