/** Edits (insert, delete, substitute, swap two neighbours) turning a into b. */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * The known word nearest to what was typed, if it is near enough to be a slip (a third of its length, at least
 * two edits) rather than a different word; a prefix of exactly one known word counts too (`--wait-` → `--wait`).
 */
export function closest(typed: string, known: readonly string[]): string | undefined {
  const t = typed.slice(0, 64).toLowerCase();
  const limit = Math.max(2, Math.floor(t.length / 3));
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const word of known) {
    const distance = editDistance(t, word.toLowerCase());
    if (distance < bestDistance) [best, bestDistance] = [word, distance];
  }
  if (best !== undefined && bestDistance <= limit) return best;
  const prefixed = known.filter((w) => w.startsWith(t) && t.length >= 4);
  return prefixed.length === 1 ? prefixed[0] : undefined;
}
