/**
 * "Did you mean" for names people type: chat commands, config keys, environment names. Pure, so the chat
 * grammar and the config loader suggest the same way.
 */

/**
 * Optimal string alignment distance: Levenshtein plus adjacent transpositions, because `stauts`
 * (one swap) should be as close to `status` as `statsu` is.
 */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  const at = (i: number, j: number): number => d[i]![j]!;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, at(i - 2, j - 2) + 1);
      d[i]![j] = best;
    }
  }
  return at(a.length, b.length);
}

/**
 * The candidate a mistyped word most likely meant, if one is close enough to be worth suggesting: the same
 * word in another case, the one candidate the word starts (or is the start of), else the nearest by edit
 * distance when that is a typo's worth (one edit in a short word, two in a longer one) and unambiguous.
 */
export function closestMatch(word: string, candidates: Iterable<string>): string | undefined {
  const w = word.toLowerCase();
  // Candidates may come from a config that failed validation elsewhere: anything but a string is no name.
  const names = [...new Set(candidates)].filter((name) => typeof name === 'string' && name !== word);
  const sameCase = names.find((name) => name.toLowerCase() === w);
  if (sameCase !== undefined) return sameCase;
  const prefixed = names.filter((name) => w.length >= 2 && (name.toLowerCase().startsWith(w) || (name.length >= 3 && w.startsWith(name.toLowerCase()))));
  if (prefixed.length === 1) return prefixed[0];
  const allowed = w.length <= 3 ? 1 : 2;
  const scored = names.map((name) => ({ name, distance: editDistance(w, name.toLowerCase()) })).filter((s) => s.distance <= allowed);
  const best = Math.min(...scored.map((s) => s.distance));
  const nearest = scored.filter((s) => s.distance === best);
  return nearest.length === 1 ? nearest[0]?.name : undefined;
}

/** ` (did you mean "x"?)`, or nothing when no candidate is close. */
export function didYouMean(word: string, candidates: Iterable<string>): string {
  const match = closestMatch(word, candidates);
  return match === undefined ? '' : ` (did you mean "${match}"?)`;
}
