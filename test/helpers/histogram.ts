import { send } from './http.js';

export interface HistogramSeries {
  count: number;
  sum: number;
  /** Cumulative counts by finite upper bound, in the order Prometheus prints them. */
  buckets: Array<{ le: number; count: number }>;
}

/**
 * One series of a histogram in Prometheus text format; `labels` is the series' labels other than le,
 * as printed (e.g. 'result="issued"'). A series not yet observed reads as all zeros.
 */
export function histogramSeries(text: string, name: string, labels = ''): HistogramSeries {
  const series: HistogramSeries = { count: 0, sum: 0, buckets: [] };
  const own = labels ? `{${labels}}` : '';
  for (const line of text.split('\n')) {
    const bucket = /^(\S+)_bucket\{le="([^"]+)"(?:,(.*))?\} (\S+)$/.exec(line);
    if (bucket && bucket[1] === name && (bucket[3] ?? '') === labels && bucket[2] !== '+Inf') {
      series.buckets.push({ le: Number(bucket[2]), count: Number(bucket[4]) });
    } else if (line.startsWith(`${name}_count${own} `)) {
      series.count = Number(line.slice(line.lastIndexOf(' ') + 1));
    } else if (line.startsWith(`${name}_sum${own} `)) {
      series.sum = Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return series;
}

export async function scrapeHistogram(monitoringUrl: string, name: string, labels = ''): Promise<HistogramSeries> {
  const res = await send(`${monitoringUrl}/metrics`);
  if (res.status !== 200) throw new Error(`GET ${monitoringUrl}/metrics answered ${res.status}`);
  return histogramSeries(res.text, name, labels);
}

/** The smallest finite bucket holding `n` more observations after than before, if any does. */
export function smallestBucketHolding(before: HistogramSeries, after: HistogramSeries, n: number): number | undefined {
  return after.buckets.find((b, i) => b.count - (before.buckets[i]?.count ?? 0) === n)?.le;
}
