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
