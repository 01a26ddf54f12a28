#!/usr/bin/env node
// Runs the reliability suite (test/reliability) and closes with a table of what it measured.
// Usage: npm run test:reliability
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dir = mkdtempSync(join(tmpdir(), 'hoist-reliability-'));
const figuresFile = join(dir, 'figures.jsonl');
const vitest = spawnSync(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', 'test/reliability'], {
  stdio: 'inherit',
  env: { ...process.env, HOIST_RELIABILITY_FIGURES: figuresFile },
});

const rows = existsSync(figuresFile) ? readFileSync(figuresFile, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)) : [];
rmSync(dir, { recursive: true, force: true });
const columns = ['events', 'deliveries', 'duplicates', 'crashes', 'committed', 'skipped', 'failed', 'commits', 'lost', 'duplicated'];
const header = ['property', ...columns];
const table = rows.map((r) => [r.property, ...columns.map((c) => (r[c] === undefined ? '–' : String(r[c])))]);
const totals = ['total', ...columns.map((c) => (c === 'commits' ? '–' : String(rows.reduce((sum, r) => sum + (r[c] ?? 0), 0))))];
const all = [header, ...table, totals];
const widths = header.map((_, i) => Math.max(...all.map((row) => row[i].length)));
const line = (row) => `| ${row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join(' | ')} |`;
console.log('\nReliability figures');
console.log(line(header));
console.log(`|${widths.map((w, i) => (i === 0 ? `${'-'.repeat(w + 1)}-` : `${'-'.repeat(w + 1)}:`)).join('|')}|`);
for (const row of [...table, totals]) console.log(line(row));
process.exit(vitest.status ?? 1);
