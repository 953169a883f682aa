/** One measured figure, printed next to the ceiling measured in the same run. */
export interface Figure {
  name: string;
  value: number;
  unit: string;
  ceiling?: number;
  ratio?: number;
  note?: string;
}

export function printFigures(title: string, figures: Figure[]): void {
  console.log(`\n## ${title}`);
  for (const f of figures) {
    const ratio = f.ratio ?? (f.ceiling ? f.value / f.ceiling : undefined);
    const parts = [`${f.name}: ${fmt(f.value)} ${f.unit}`];
    if (f.ceiling !== undefined) parts.push(`ceiling ${fmt(f.ceiling)} ${f.unit}`);
    if (ratio !== undefined) parts.push(`ratio ${ratio.toFixed(2)}`);
    if (f.note) parts.push(f.note);
    console.log(`- ${parts.join(' | ')}`);
  }
}

function fmt(n: number): string {
  return n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(2);
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? 0 : s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/** min-max of a set of ratios, for the note beside their median. */
export function range(xs: number[]): string {
  return `${Math.min(...xs).toFixed(2)}-${Math.max(...xs).toFixed(2)}`;
}
