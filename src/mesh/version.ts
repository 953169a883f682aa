/** View versions are `<epoch>:<revision>`: the epoch is new on every control plane start, so no two starts' revisions are confused. */
export function formatVersion(epoch: string, revision: number): string {
  return `${epoch}:${revision}`;
}

/** The revision of a version of this epoch; undefined for any other epoch or a malformed version. */
export function revisionOf(version: string | undefined, epoch: string): number | undefined {
  if (!version) return undefined;
  const at = version.lastIndexOf(':');
  if (version.slice(0, at) !== epoch) return undefined;
  const rev = version.slice(at + 1);
  return /^\d{1,15}$/.test(rev) ? Number(rev) : undefined;
}

/** The epoch part of a version; '' for none. */
export function epochOf(version: string | undefined): string {
  const at = version?.lastIndexOf(':') ?? -1;
  return at < 0 ? '' : version!.slice(0, at);
}
