/**
 * The binary min-heap the runtime orders things with (the reorder buffer's events, the timers,
 * the second stage's pending records): one sift-up and one sift-down over a plain array, with
 * the order given by `less`.
 */
export function heapPush<T>(h: T[], x: T, less: (a: T, b: T) => boolean): void {
  h.push(x);
  let i = h.length - 1;
  while (i > 0) {
    const p = (i - 1) >> 1;
    if (!less(x, h[p]!)) break;
    h[i] = h[p]!;
    i = p;
  }
  h[i] = x;
}

/** Removes and returns the smallest entry; the heap must not be empty. */
export function heapPop<T>(h: T[], less: (a: T, b: T) => boolean): T {
  const top = h[0]!;
  const last = h.pop()!;
  if (h.length > 0) {
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= h.length) break;
      const r = l + 1;
      const c = r < h.length && less(h[r]!, h[l]!) ? r : l;
      if (!less(h[c]!, last)) break;
      h[i] = h[c]!;
      i = c;
    }
    h[i] = last;
  }
  return top;
}
