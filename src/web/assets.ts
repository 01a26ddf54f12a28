import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The board's client script and stylesheet, as served: bytes, type, and a version for cache busting. */
export interface Asset {
  body: Uint8Array;
  type: string;
  /** A short hash of the bytes: pages link `/assets/board.js?v=…`, so a new release is never a stale cache. */
  version: string;
}

export const ASSET_FILES = { 'board.js': 'text/javascript; charset=utf-8', 'board.css': 'text/css; charset=utf-8' } as const;
export type AssetName = keyof typeof ASSET_FILES;

/**
 * Read once, at start, from the package: beside this module (src/web/assets, or dist/web/assets where the build
 * copies them), else src/web/assets from a dist/ build that has no copy. No CDN: the cluster may be air-gapped.
 */
export function loadAssets(): Record<AssetName, Asset> {
  const places = [new URL('./assets/', import.meta.url), new URL('../../src/web/assets/', import.meta.url)];
  const read = (name: AssetName): Asset => {
    for (const place of places) {
      try {
        const body = readFileSync(fileURLToPath(new URL(name, place)));
        return { body, type: ASSET_FILES[name], version: createHash('sha256').update(body).digest('hex').slice(0, 12) };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    }
    throw new Error(`the board's ${name} is missing from the package (looked in ${places.map((p) => fileURLToPath(p)).join(' and ')})`);
  };
  return { 'board.js': read('board.js'), 'board.css': read('board.css') };
}
