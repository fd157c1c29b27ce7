/**
 * Where the test fixtures live: `test/fixtures/` inside the repository (see its README for where
 * each set came from). Every test reads fixtures through these paths, never from outside the repo.
 */
import { fileURLToPath } from "node:url";

/** `test/fixtures/` */
export const FIXTURES_DIR = fileURLToPath(new URL("../fixtures/", import.meta.url));
/** The zarrita.js fixture set (zarr-python 2.18 / 3.1 wrote it), with `expected.json`. */
export const ZARRITA_FIXTURES = fileURLToPath(new URL("../fixtures/zarrita/", import.meta.url));
/** The extended-formats set (strings, dates, structs, filters, rectilinear grids), with `manifest.json`. */
export const FORMATS_FIXTURES = fileURLToPath(new URL("../fixtures/formats/", import.meta.url));
