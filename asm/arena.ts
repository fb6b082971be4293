// A bump arena over the whole linear memory. The host resets it before every call, copies
// its inputs into fresh allocations and reads the outputs back before the next reset, so
// nothing is ever freed one by one. Memory grows on demand (at least doubling, so a long
// series of allocations costs few grows); it never shrinks.

const ALIGN: usize = 8;

@inline function alignUp(p: usize): usize {
  return (p + ALIGN - 1) & ~(ALIGN - 1);
}

const BASE: usize = alignUp(__heap_base);
let top: usize = BASE;

/** Makes sure linear memory reaches byte `end`; traps when the 4 GiB limit is hit. */
export function ensureMemory(end: usize): void {
  const pages = memory.size();
  const have = <usize>pages << 16;
  if (end <= have) return;
  const need = <i32>((end - have + 0xffff) >> 16);
  if (memory.grow(max(need, pages)) < 0 && memory.grow(need) < 0) unreachable();
}

/** Bytes available to the last open-ended region before memory must grow. */
export function memoryEnd(): usize {
  return <usize>memory.size() << 16;
}

/** Forgets every allocation. */
export function reset(): void {
  top = BASE;
}

/** `bytes` bytes, 8-aligned, uninitialised. */
export function alloc(bytes: usize): usize {
  const p = top;
  top = alignUp(p + bytes);
  ensureMemory(top);
  return p;
}

/** `bytes` bytes, zeroed (a reused arena holds the previous call's data). */
export function allocZeroed(bytes: usize): usize {
  const p = alloc(bytes);
  memory.fill(p, 0, bytes);
  return p;
}

/**
 * Starts a region whose size is not known in advance (it must be the last allocation):
 * the writer grows memory with `ensureMemory` as it goes and ends it with `closeRegion`.
 */
export function openRegion(): usize {
  return top;
}

export function closeRegion(end: usize): void {
  top = alignUp(end);
}
