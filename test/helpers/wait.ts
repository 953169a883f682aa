/** Polls until `cond` holds; fails naming `what` after `timeoutMs`. For state that settles asynchronously (watches, reconcilers). */
export async function waitFor(cond: () => boolean, o: { timeoutMs?: number; what?: string } = {}): Promise<void> {
  const end = Date.now() + (o.timeoutMs ?? 3000);
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${o.what ?? 'the condition'}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
