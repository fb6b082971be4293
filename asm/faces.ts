// Faces → triangles of merged vertex ids, the way the reference splits them (SPEC §1 step 5).
//
// The reference builds an undirected graph from a face's edges (networkx.Graph, whose nodes
// and neighbour lists keep insertion order) and takes `networkx.cycle_basis` of it; every
// cycle of 3+ vertices becomes a face, rotated so its smallest vertex id comes first. The
// cycle basis walks a face backwards, so a simple polygon comes back reversed.
//
// Triangles take a fast path with the same result: 3 distinct ids (a, b, c) give the single
// cycle (a, c, b); any repeated id leaves no cycle of 3+ vertices.
//
// Other faces run an exact replay of the cycle-basis walk. The reference cannot serialize a
// cycle longer than 3 (its `vertices[faces]` gather needs triangles; the ShapeNet data it
// trains on is all triangles), so here a longer cycle is fan-triangulated from its first
// vertex after the rotation — the smallest id — in cycle order: (c0 c1 c2), (c0 c2 c3), …

import { alloc, closeRegion, ensureMemory, memoryEnd, openRegion } from "./arena";

// ---- triangle output: an open-ended arena region of u32 triples -------------------------

let triStart: usize = 0;
let triEnd: usize = 0;
let triLimit: usize = 0;

export function beginTriangles(): usize {
  triStart = openRegion();
  triEnd = triStart;
  triLimit = memoryEnd();
  return triStart;
}

/** Closes the region; returns the triangle count. */
export function endTriangles(): i32 {
  closeRegion(triEnd);
  return <i32>((triEnd - triStart) / 12);
}

@inline function emit(a: u32, b: u32, c: u32): void {
  if (triEnd + 12 > triLimit) {
    ensureMemory(triEnd + 12);
    triLimit = memoryEnd();
  }
  store<u32>(triEnd, a);
  store<u32>(triEnd, b, 4);
  store<u32>(triEnd, c, 8);
  triEnd += 12;
}

// ---- triangles ---------------------------------------------------------------------------

export function splitTriangle(a: u32, b: u32, c: u32): void {
  if (a == b || b == c || a == c) return;
  // The reversed cycle (a, c, b), rotated so its smallest id is first.
  if (a < b && a < c) emit(a, c, b);
  else if (c < b) emit(c, b, a);
  else emit(b, a, c);
}

// ---- polygons: replay of networkx.cycle_basis on the face graph --------------------------
// Nodes are local indices 0..k-1 in order of first appearance. Neighbour lists and the
// `used` sets are singly linked lists in flat arrays; a face of n corners has at most n
// nodes, n distinct edges (2n list entries) and n - k + 1 cycles (so ≤ 2n `used` entries).

const NONE: i32 = -1;

let localOf: usize = 0; // i32 per merged vertex: its node in the current face, or NONE
let nodeId: usize = 0; // u32 per node: merged vertex id
let adjHead: usize = 0; // i32 per node
let adjTail: usize = 0; // i32 per node
let adjNode: usize = 0; // i32 per list entry
let adjNext: usize = 0; // i32 per list entry
let pred: usize = 0; // i32 per node: parent in the spanning tree, NONE before it is reached
let usedHead: usize = 0; // i32 per node
let usedNode: usize = 0; // i32 per set entry
let usedNext: usize = 0; // i32 per set entry
let stack: usize = 0; // i32 per node
let cycle: usize = 0; // u32 per node: the cycle being emitted, as merged ids

let nodeCount: i32 = 0;
let adjCount: i32 = 0;
let usedCount: i32 = 0;

@inline function get(base: usize, i: i32): i32 {
  return load<i32>(base + (<usize>i << 2));
}
@inline function set(base: usize, i: i32, v: i32): void {
  store<i32>(base + (<usize>i << 2), v);
}

/** Scratch for faces of up to `maxCorners` corners over `mergedCount` vertices. */
export function preparePolygons(maxCorners: i32, mergedCount: i32): void {
  localOf = alloc(<usize>mergedCount << 2);
  memory.fill(localOf, 0xff, <usize>mergedCount << 2); // NONE everywhere
  const node = <usize>maxCorners << 2;
  nodeId = alloc(node);
  adjHead = alloc(node);
  adjTail = alloc(node);
  adjNode = alloc(2 * node);
  adjNext = alloc(2 * node);
  pred = alloc(node);
  usedHead = alloc(node);
  usedNode = alloc(2 * node);
  usedNext = alloc(2 * node);
  stack = alloc(node);
  cycle = alloc(node);
}

function nodeOf(v: u32): i32 {
  let l = get(localOf, <i32>v);
  if (l == NONE) {
    l = nodeCount++;
    set(localOf, <i32>v, l);
    set(nodeId, l, <i32>v);
    set(adjHead, l, NONE);
    set(adjTail, l, NONE);
    set(pred, l, NONE);
  }
  return l;
}

/** Appends `v` to `u`'s neighbours unless it is there already (a dict keeps first insertion). */
function addNeighbour(u: i32, v: i32): void {
  for (let e = get(adjHead, u); e != NONE; e = get(adjNext, e)) if (get(adjNode, e) == v) return;
  const e = adjCount++;
  set(adjNode, e, v);
  set(adjNext, e, NONE);
  const tail = get(adjTail, u);
  if (tail == NONE) set(adjHead, u, e);
  else set(adjNext, tail, e);
  set(adjTail, u, e);
}

function addEdge(a: u32, b: u32): void {
  const u = nodeOf(a);
  const v = nodeOf(b);
  addNeighbour(u, v);
  if (u != v) addNeighbour(v, u);
}

function usedAdd(node: i32, x: i32): void {
  const e = usedCount++;
  set(usedNode, e, x);
  set(usedNext, e, get(usedHead, node));
  set(usedHead, node, e);
}

function usedHas(node: i32, x: i32): bool {
  for (let e = get(usedHead, node); e != NONE; e = get(usedNext, e)) if (get(usedNode, e) == x) return true;
  return false;
}

/** Emits cycle[0..len) rotated to its smallest id, fan-triangulated (see the header). */
function emitCycle(len: i32): void {
  if (len < 3) return;
  let d = 0;
  for (let i = 1; i < len; i++) if (<u32>get(cycle, i) < <u32>get(cycle, d)) d = i;
  const first = <u32>get(cycle, d);
  for (let i = 1; i < len - 1; i++) {
    emit(first, <u32>get(cycle, (d + i) % len), <u32>get(cycle, (d + i + 1) % len));
  }
}

/**
 * Splits the face `indices[0..n)` (input vertex ids, mapped to merged ids by `toMerged`).
 * Needs `preparePolygons` with maxCorners ≥ n first.
 */
export function splitPolygon(indices: usize, n: i32, toMerged: usize): void {
  nodeCount = 0;
  adjCount = 0;
  usedCount = 0;
  const first = load<u32>(toMerged + (<usize>load<u32>(indices) << 2));
  let prev = first;
  for (let i = 1; i < n; i++) {
    const v = load<u32>(toMerged + (<usize>load<u32>(indices + (<usize>i << 2)) << 2));
    addEdge(prev, v);
    prev = v;
  }
  addEdge(prev, first);

  // Components: the root is always the last node (in insertion order) not reached yet.
  for (let cursor = nodeCount - 1; cursor >= 0; cursor--) {
    if (get(pred, cursor) != NONE) continue;
    set(pred, cursor, cursor);
    set(usedHead, cursor, NONE);
    let top = 0;
    set(stack, top++, cursor);
    while (top > 0) {
      const z = get(stack, --top);
      for (let e = get(adjHead, z); e != NONE; e = get(adjNext, e)) {
        const nbr = get(adjNode, e);
        if (get(pred, nbr) == NONE) {
          set(pred, nbr, z);
          set(stack, top++, nbr);
          set(usedHead, nbr, NONE);
          usedAdd(nbr, z);
        } else if (nbr != z && !usedHas(z, nbr)) {
          // A self-loop (nbr == z) is a 1-cycle: too short, nothing to emit.
          set(cycle, 0, get(nodeId, nbr));
          set(cycle, 1, get(nodeId, z));
          let len = 2;
          let p = get(pred, z);
          while (!usedHas(nbr, p)) {
            set(cycle, len++, get(nodeId, p));
            p = get(pred, p);
          }
          set(cycle, len++, get(nodeId, p));
          emitCycle(len);
          usedAdd(nbr, z);
        }
      }
    }
  }
  for (let l = 0; l < nodeCount; l++) set(localOf, get(nodeId, l), NONE);
}
