import { appendFileSync } from 'node:fs';

export type Figures = Partial<{
  events: number;
  deliveries: number;
  duplicates: number;
  crashes: number;
  committed: number;
  skipped: number;
  failed: number;
  commits: number;
  lost: number;
  duplicated: number;
}>;

/** `npm run test:reliability` collects these into its closing table; plain `npm test` ignores them. */
export function recordFigures(property: string, figures: Figures): void {
  const file = process.env.HOIST_RELIABILITY_FIGURES;
  if (file) appendFileSync(file, `${JSON.stringify({ property, ...figures })}\n`);
}
