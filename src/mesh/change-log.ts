/**
 * Which destination keys changed at which revision, so a delta since any recent revision is the keys changed
 * after it (looked up in their current state), not a diff of two maps. Bounded: a revision older than what is
 * kept gets a full view instead.
 */
export class ChangeLog {
  private revs: number[] = [];
  private keys: string[] = [];
  /** Revisions at or below this are no longer covered. */
  private floor = 0;

  constructor(private readonly limit = 100_000) {}

  record(revision: number, key: string): void {
    this.revs.push(revision);
    this.keys.push(key);
    if (this.revs.length > this.limit * 2) {
      const drop = this.revs.length - this.limit;
      this.floor = this.revs[drop - 1]!;
      this.revs = this.revs.slice(drop);
      this.keys = this.keys.slice(drop);
    }
  }

  /** The keys changed after `revision`, each once; undefined when the log no longer reaches back that far. */
  since(revision: number): Set<string> | undefined {
    if (revision < this.floor) return undefined;
    let lo = 0;
    let hi = this.revs.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.revs[mid]! <= revision) lo = mid + 1;
      else hi = mid;
    }
    return new Set(this.keys.slice(lo));
  }
}
