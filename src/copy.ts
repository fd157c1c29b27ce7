/**
 * Strided copy kernels: move a strided box of one C-order array into a strided box of another
 * (or fill a box with one value). This is the hot path of every read and write — each chunk
 * decoded or encoded passes through here once — so the loops are arranged for speed:
 *
 * 1. The box is described per dimension in *slots* of the typed array (an element may span `k`
 *    slots: an 8-byte element viewed as Uint32Array has k = 2).
 * 2. Dimensions of count 1 are folded into the base offset, and adjacent dimensions whose
 *    combined walk is one arithmetic progression on both sides are merged. A box that covers
 *    whole rows therefore becomes one long run, and a whole-array copy becomes a single `set`.
 * 3. The innermost merged run is copied with `TypedArray.set` when it is contiguous and long
 *    (a memcpy), with a plain loop otherwise; the next dimension is a tight loop, and any outer
 *    dimensions are walked with an index-counter odometer (no recursion, no per-row allocation).
 *
 * Copy through unsigned integer words (see `wordView`), never through Float arrays: element
 * loops on Float32Array/Float64Array may canonicalise NaN payloads. (`set` between arrays of
 * the same type is a byte copy and is safe, but shorter runs use the loop.)
 */

import type { Region } from "./selection.js";

export type Words =
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | Int8Array
  | Int16Array
  | Int32Array
  | Float32Array
  | Float64Array
  | BigInt64Array
  | BigUint64Array;

/**
 * The kernels index all word types uniformly. This is a type-level convenience only: at run
 * time the values read are the arrays' own (number or bigint) and go back into the same type.
 */
type Slots = Uint32Array;

/** Contiguous runs at least this long are copied with `set` (a memmove) rather than a loop. */
const SET_THRESHOLD = 64;

/** One merged dimension of a copy: `count` steps of `dstStep` / `srcStep` slots. */
interface Dim {
  count: number;
  dstStep: number;
  srcStep: number;
}

/** C-order strides in slots (`k` slots per element). */
function stridesOf(shape: readonly number[], k: number): number[] {
  const strides = new Array<number>(shape.length);
  let stride = k;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = stride;
    stride *= shape[i]!;
  }
  return strides;
}

function checkK(k: number): void {
  if (!Number.isSafeInteger(k) || k < 1) throw new RangeError(`k (slots per element) must be a positive integer, got ${k}`);
}

/** Validates that `region` is a box inside an array of `shape` backed by `length` slots. */
function checkRegion(which: string, shape: readonly number[], region: readonly Region[], length: number, k: number): void {
  if (shape.length !== region.length) {
    throw new RangeError(`${which} region has ${region.length} dimensions but the ${which} shape has ${shape.length}`);
  }
  let size = k;
  for (let i = 0; i < shape.length; i++) {
    const { start, step, count } = region[i]!;
    const extent = shape[i]!;
    size *= extent;
    if (!Number.isSafeInteger(count) || count < 0 || !Number.isSafeInteger(step) || step < 1 || !Number.isSafeInteger(start)) {
      throw new RangeError(`${which} region on axis ${i} is malformed: ${JSON.stringify(region[i])}`);
    }
    if (count > 0 && (start < 0 || start + step * (count - 1) >= extent)) {
      throw new RangeError(`${which} region on axis ${i} (${JSON.stringify(region[i])}) exceeds the size ${extent}`);
    }
  }
  if (length < size) throw new RangeError(`${which} array has ${length} slots, its shape [${shape.join(", ")}] needs ${size}`);
}

/**
 * Builds the merged dimension list (outermost first) and the base offsets. Dimensions of count
 * 1 only shift the base; dimension `outer` merges into the current innermost `inner` when
 * `outer.step == inner.count * inner.step` on both sides (the two walks form one progression).
 */
function plan(
  dstShape: readonly number[],
  dstRegion: readonly Region[],
  srcShape: readonly number[] | null,
  srcRegion: readonly Region[] | null,
  k: number,
): { dims: Dim[]; dstBase: number; srcBase: number } {
  const dstStrides = stridesOf(dstShape, k);
  const srcStrides = srcShape === null ? dstStrides : stridesOf(srcShape, k);
  let dstBase = 0;
  let srcBase = 0;
  // Built innermost first; the element's own k slots are the innermost dimension.
  const inner: Dim[] = k > 1 ? [{ count: k, dstStep: 1, srcStep: 1 }] : [];
  for (let i = dstRegion.length - 1; i >= 0; i--) {
    const d = dstRegion[i]!;
    const s = srcRegion === null ? d : srcRegion[i]!;
    dstBase += d.start * dstStrides[i]!;
    srcBase += s.start * srcStrides[i]!;
    if (d.count === 1) continue;
    const dstStep = d.step * dstStrides[i]!;
    const srcStep = s.step * srcStrides[i]!;
    const top = inner[inner.length - 1];
    if (top !== undefined && dstStep === top.count * top.dstStep && srcStep === top.count * top.srcStep) {
      top.count *= d.count;
    } else {
      inner.push({ count: d.count, dstStep, srcStep });
    }
  }
  return { dims: inner.reverse(), dstBase, srcBase };
}

/**
 * Splits merged dims into: a contiguous innermost run of `run` slots (1 when the innermost
 * dimension is strided), a "row" dimension walked by a tight loop, and the outer dimensions
 * walked by the odometer.
 */
function split(dims: Dim[]): { run: number; row: Dim; outer: Dim[] } {
  let end = dims.length;
  let run = 1;
  const last = dims[end - 1];
  if (last !== undefined && last.dstStep === 1 && last.srcStep === 1) {
    run = last.count;
    end--;
  }
  const row = end > 0 ? dims[end - 1]! : { count: 1, dstStep: 0, srcStep: 0 };
  return { run, row, outer: dims.slice(0, Math.max(end - 1, 0)) };
}

/**
 * Copies the box `srcRegion` of `src` into the box `dstRegion` of `dst`. Both regions must
 * have the same count in every dimension, both arrays the same typed-array type, and `k`
 * slots per element. Throws RangeError on mismatched or out-of-bounds regions.
 * Overlapping `src` and `dst` memory is not supported except for identical boxes.
 */
export function copyRegion(
  dst: Words,
  dstShape: readonly number[],
  dstRegion: readonly Region[],
  src: Words,
  srcShape: readonly number[],
  srcRegion: readonly Region[],
  k = 1,
): void {
  checkK(k);
  if (dst.constructor !== src.constructor) {
    throw new TypeError(`copyRegion needs arrays of the same type, got ${dst.constructor.name} and ${src.constructor.name}`);
  }
  if (dstRegion.length !== srcRegion.length) {
    throw new RangeError(`region ranks differ: destination ${dstRegion.length}, source ${srcRegion.length}`);
  }
  for (let i = 0; i < dstRegion.length; i++) {
    if (dstRegion[i]!.count !== srcRegion[i]!.count) {
      throw new RangeError(`region counts differ on axis ${i}: destination ${dstRegion[i]!.count}, source ${srcRegion[i]!.count}`);
    }
  }
  if (isListed(dstRegion) || isListed(srcRegion)) {
    copyListed(dst, dstShape, dstRegion, src, srcShape, srcRegion, k);
    return;
  }
  checkRegion("destination", dstShape, dstRegion, dst.length, k);
  checkRegion("source", srcShape, srcRegion, src.length, k);
  for (const r of dstRegion) if (r.count === 0) return;

  const { dims, dstBase, srcBase } = plan(dstShape, dstRegion, srcShape, srcRegion, k);
  const { run, row, outer } = split(dims);
  const d = dst as Slots;
  const s = src as Slots;
  const rows = row.count;
  const rowDst = row.dstStep;
  const rowSrc = row.srcStep;
  // JS arrays of values (object data types) have no set/subarray: they take the loops.
  const bulk = !Array.isArray(dst);

  // Odometer state for the outer dimensions (allocated once per call).
  const depth = outer.length;
  const counter = new Array<number>(depth).fill(0);
  let dstOffset = dstBase;
  let srcOffset = srcBase;
  for (;;) {
    let di = dstOffset;
    let si = srcOffset;
    if (run >= SET_THRESHOLD && bulk) {
      for (let r = 0; r < rows; r++, di += rowDst, si += rowSrc) d.set(s.subarray(si, si + run), di);
    } else if (run === 1) {
      for (let r = 0; r < rows; r++, di += rowDst, si += rowSrc) d[di] = s[si]!;
    } else {
      for (let r = 0; r < rows; r++, di += rowDst, si += rowSrc) {
        for (let j = 0; j < run; j++) d[di + j] = s[si + j]!;
      }
    }

    let axis = depth - 1;
    for (; axis >= 0; axis--) {
      const dim = outer[axis]!;
      dstOffset += dim.dstStep;
      srcOffset += dim.srcStep;
      if (++counter[axis]! < dim.count) break;
      counter[axis] = 0;
      dstOffset -= dim.dstStep * dim.count;
      srcOffset -= dim.srcStep * dim.count;
    }
    if (axis < 0) return;
  }
}

/**
 * Sets every element of the box `dstRegion` of `dst` to `value`, which holds one element's
 * `k` slots (same typed-array type as `dst`).
 */
export function fillRegion(
  dst: Words,
  dstShape: readonly number[],
  dstRegion: readonly Region[],
  value: Words,
  k = 1,
): void {
  checkK(k);
  if (dst.constructor !== value.constructor) {
    throw new TypeError(`fillRegion needs a value of the array's type, got ${value.constructor.name} for ${dst.constructor.name}`);
  }
  if (value.length < k) throw new RangeError(`fill value has ${value.length} slots, an element needs ${k}`);
  if (isListed(dstRegion)) {
    fillListed(dst, dstShape, dstRegion, value, k);
    return;
  }
  checkRegion("destination", dstShape, dstRegion, dst.length, k);
  for (const r of dstRegion) if (r.count === 0) return;

  const { dims, dstBase } = plan(dstShape, dstRegion, null, null, k);
  const { run, row, outer } = split(dims);
  const d = dst as Slots;
  const v = value as Slots;
  const v0 = v[0]!;
  const rows = row.count;
  const rowDst = row.dstStep;

  const depth = outer.length;
  const counter = new Array<number>(depth).fill(0);
  let offset = dstBase;
  for (;;) {
    let di = offset;
    if (k === 1) {
      if (run >= SET_THRESHOLD) for (let r = 0; r < rows; r++, di += rowDst) d.fill(v0, di, di + run);
      else if (run === 1) for (let r = 0; r < rows; r++, di += rowDst) d[di] = v0;
      else for (let r = 0; r < rows; r++, di += rowDst) for (let j = 0; j < run; j++) d[di + j] = v0;
    } else if (run >= SET_THRESHOLD) {
      // A run is whole elements (k divides it): write one element, then double it with copyWithin.
      for (let r = 0; r < rows; r++, di += rowDst) {
        for (let j = 0; j < k; j++) d[di + j] = v[j]!;
        for (let filled = k; filled < run; ) {
          const n = Math.min(filled, run - filled);
          d.copyWithin(di + filled, di, di + n);
          filled += n;
        }
      }
    } else {
      // run is a multiple of k here too (the k-slot element dimension is always innermost).
      for (let r = 0; r < rows; r++, di += rowDst) {
        for (let j = 0; j < run; j += k) for (let q = 0; q < k; q++) d[di + j + q] = v[q]!;
      }
    }

    let axis = depth - 1;
    for (; axis >= 0; axis--) {
      const dim = outer[axis]!;
      offset += dim.dstStep;
      if (++counter[axis]! < dim.count) break;
      counter[axis] = 0;
      offset -= dim.dstStep * dim.count;
    }
    if (axis < 0) return;
  }
}

// ---------------------------------------------------------------------------------------------
// Listed regions (index arrays)
//
// A dimension with an `index` list visits arbitrary positions (unordered, possibly repeated),
// so none of the merging above applies. These kernels are deliberately plain: per dimension a
// table of slot offsets, an odometer over the outer dimensions and a loop over the innermost
// table. Only selections with index arrays come here; strided boxes never do.

/** True when some dimension of the region lists its positions. */
export function isListed(region: readonly Region[]): boolean {
  for (let i = 0; i < region.length; i++) if (region[i]!.index !== undefined) return true;
  return false;
}

/**
 * Per dimension, the slot offset of each selected position (validated against the shape):
 * `index[j]` or `start + j*step`, times the dimension's stride.
 */
export function offsetTables(which: string, shape: readonly number[], region: readonly Region[], length: number, k: number): Float64Array[] {
  if (shape.length !== region.length) {
    throw new RangeError(`${which} region has ${region.length} dimensions but the ${which} shape has ${shape.length}`);
  }
  const strides = stridesOf(shape, k);
  if (length < k * shape.reduce((n, s) => n * s, 1)) {
    throw new RangeError(`${which} array has ${length} slots, its shape [${shape.join(", ")}] needs ${k * shape.reduce((n, s) => n * s, 1)}`);
  }
  return region.map((r, i) => {
    const { start, step, count, index } = r;
    const extent = shape[i]!;
    if (!Number.isSafeInteger(count) || count < 0 || (index !== undefined && index.length !== count)) {
      throw new RangeError(`${which} region on axis ${i} is malformed: count ${count}${index ? `, ${index.length} listed` : ""}`);
    }
    const table = new Float64Array(count);
    for (let j = 0; j < count; j++) {
      const at = index !== undefined ? index[j]! : start + j * step;
      if (!Number.isSafeInteger(at) || at < 0 || at >= extent) {
        throw new RangeError(`${which} region on axis ${i} selects position ${at}, outside the size ${extent}`);
      }
      table[j] = at * strides[i]!;
    }
    return table;
  });
}

/**
 * Calls `visit(dstOffset, srcOffset)` for every element of the box, in C order of the box,
 * given the offset tables of both sides (the source ones may be the destination's).
 */
function walkTables(dst: Float64Array[], src: Float64Array[], visit: (d: number, s: number) => void): void {
  const rank = dst.length;
  for (const t of dst) if (t.length === 0) return;
  if (rank === 0) {
    visit(0, 0);
    return;
  }
  const last = rank - 1;
  const innerDst = dst[last]!;
  const innerSrc = src[last]!;
  const n = innerDst.length;
  const counter = new Array<number>(rank).fill(0);
  let dstBase = 0;
  let srcBase = 0;
  for (let axis = 0; axis < last; axis++) {
    dstBase += dst[axis]![0]!;
    srcBase += src[axis]![0]!;
  }
  for (;;) {
    for (let j = 0; j < n; j++) visit(dstBase + innerDst[j]!, srcBase + innerSrc[j]!);
    let axis = last - 1;
    for (; axis >= 0; axis--) {
      const d = dst[axis]!;
      const s = src[axis]!;
      const c = counter[axis]!;
      dstBase -= d[c]!;
      srcBase -= s[c]!;
      const next = c + 1 < d.length ? c + 1 : 0;
      counter[axis] = next;
      dstBase += d[next]!;
      srcBase += s[next]!;
      if (next !== 0) break;
    }
    if (axis < 0) return;
  }
}

function copyListed(
  dst: Words,
  dstShape: readonly number[],
  dstRegion: readonly Region[],
  src: Words,
  srcShape: readonly number[],
  srcRegion: readonly Region[],
  k: number,
): void {
  const dstTables = offsetTables("destination", dstShape, dstRegion, dst.length, k);
  const srcTables = offsetTables("source", srcShape, srcRegion, src.length, k);
  const d = dst as Slots;
  const s = src as Slots;
  if (k === 1) walkTables(dstTables, srcTables, (di, si) => void (d[di] = s[si]!));
  else walkTables(dstTables, srcTables, (di, si) => {
    for (let q = 0; q < k; q++) d[di + q] = s[si + q]!;
  });
}

function fillListed(dst: Words, dstShape: readonly number[], dstRegion: readonly Region[], value: Words, k: number): void {
  const tables = offsetTables("destination", dstShape, dstRegion, dst.length, k);
  const d = dst as Slots;
  const v = value as Slots;
  walkTables(tables, tables, (di) => {
    for (let q = 0; q < k; q++) d[di + q] = v[q]!;
  });
}

/**
 * A zero-copy view of `bytes` as the widest unsigned word type (4, 2 or 1 bytes) that divides
 * `itemsize`, the byte offset and the byte length, with `k = itemsize / wordSize` words per
 * element. Unsigned integer words copy bytes exactly (no NaN canonicalisation).
 */
export function wordView(
  bytes: Uint8Array | ArrayBufferView,
  itemsize: number,
): { words: Uint8Array | Uint16Array | Uint32Array; k: number } {
  if (!Number.isSafeInteger(itemsize) || itemsize < 1) throw new RangeError(`itemsize must be a positive integer, got ${itemsize}`);
  // A JS array of values (object data types, see dtype.bytesOf) is its own words, one per element.
  if (Array.isArray(bytes)) return { words: bytes as unknown as Uint8Array, k: 1 };
  const { buffer, byteOffset, byteLength } = bytes;
  if (itemsize % 4 === 0 && byteOffset % 4 === 0 && byteLength % 4 === 0) {
    return { words: new Uint32Array(buffer, byteOffset, byteLength / 4), k: itemsize / 4 };
  }
  if (itemsize % 2 === 0 && byteOffset % 2 === 0 && byteLength % 2 === 0) {
    return { words: new Uint16Array(buffer, byteOffset, byteLength / 2), k: itemsize / 2 };
  }
  return { words: new Uint8Array(buffer, byteOffset, byteLength), k: itemsize };
}
