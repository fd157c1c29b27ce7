// The viewer's colour map (viridis, 9 stops, linear in between) as a 256-entry RGB table.
// Plain JS, so the page and the tests (which check painted pixels against the data) share it.
const STOPS = [
  [68, 1, 84], [72, 40, 120], [62, 73, 137], [49, 104, 142], [38, 130, 142],
  [31, 158, 137], [53, 183, 121], [109, 205, 89], [253, 231, 37],
];

/** 256 × RGB, index 0 for the low end of the range. */
export const COLORMAP = (() => {
  const table = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) {
    const x = (i / 255) * (STOPS.length - 1);
    const k = Math.min(STOPS.length - 2, Math.floor(x));
    const t = x - k;
    for (let c = 0; c < 3; c++) table[i * 3 + c] = Math.round(STOPS[k][c] * (1 - t) + STOPS[k + 1][c] * t);
  }
  return table;
})();

/** A value's index into COLORMAP for the range [min, max]; NaN → -1 (painted transparent). */
export function colorIndex(value, min, max) {
  const v = Number(value);
  if (Number.isNaN(v)) return -1;
  if (!(max > min)) return 0;
  const i = Math.floor(((v - min) / (max - min)) * 255 + 0.5);
  return i < 0 ? 0 : i > 255 ? 255 : i;
}

/** Paints `data` (a C-order block of rows × cols values) into RGBA pixels. */
export function paint(data, rows, cols, min, max, rgba = new Uint8ClampedArray(rows * cols * 4)) {
  for (let i = 0; i < rows * cols; i++) {
    const c = colorIndex(data[i], min, max);
    if (c < 0) {
      rgba[i * 4 + 3] = 0;
      continue;
    }
    rgba[i * 4] = COLORMAP[c * 3];
    rgba[i * 4 + 1] = COLORMAP[c * 3 + 1];
    rgba[i * 4 + 2] = COLORMAP[c * 3 + 2];
    rgba[i * 4 + 3] = 255;
  }
  return rgba;
}
