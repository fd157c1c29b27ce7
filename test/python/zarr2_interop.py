"""zarr-python 2.x side of zarrflow's v2 interop tests (test/python-interop.test.ts).

Usage (one process per direction, so the test stays fast):

    python3 zarr2_interop.py version
        Prints {"zarr": ..., "numcodecs": ..., "numpy": ...}.

    python3 zarr2_interop.py write <folder>
        Writes a matrix of v2 arrays (and a group hierarchy with attributes) into the
        DirectoryStore <folder> and prints a JSON manifest describing every array, with the
        expected contents as base64 of the C-order little-endian bytes.

    python3 zarr2_interop.py read <folder>   (request JSON on stdin)
        Reads the arrays and groups named in the request {"arrays": [path...], "groups": [path...]}
        with zarr-python and prints what it sees: data (base64, C order, little-endian), dtype,
        shape, chunks, fill_value, order, compressor, filters, dimension separator, the chunk keys
        present on disk, attributes, and each group's child names.

Values in the JSON follow the fixtures' encoding: NaN/Infinity/-Infinity as strings, complex
as [re, im], bytes as base64.
"""

import base64
import json
import math
import os
import sys

import numpy as np
import numcodecs
import zarr
from numcodecs import GZip, LZ4, Blosc, Zlib, Zstd

# ---------------------------------------------------------------------------------------------
# helpers


def le_bytes(arr):
    """C-order, little-endian bytes of an array (bool as 0/1, complex interleaved)."""
    arr = np.asarray(arr)
    arr = np.ascontiguousarray(arr.astype(arr.dtype.newbyteorder("<")))
    return base64.b64encode(arr.tobytes()).decode("ascii")


def json_float(x):
    x = float(x)
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    return x


def json_scalar(value, dtype):
    """A fill value as JSON (None stays None)."""
    if value is None:
        return None
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return bool(value)
    if dtype.kind in "iu":
        return int(value)
    if dtype.kind == "f":
        return json_float(value)
    if dtype.kind == "c":
        value = complex(value)
        return [json_float(value.real), json_float(value.imag)]
    raise ValueError(f"unexpected dtype {dtype}")


def chunk_keys(folder):
    """Chunk keys present under an array folder (metadata documents excluded)."""
    keys = []
    for root, _dirs, files in os.walk(folder):
        for name in files:
            if name.startswith("."):
                continue
            rel = os.path.relpath(os.path.join(root, name), folder)
            keys.append(rel.replace(os.sep, "/"))
    return sorted(keys)


def attrs_json(attrs):
    return json.loads(json.dumps(dict(attrs)))


# ---------------------------------------------------------------------------------------------
# write: the matrix of arrays zarr-python writes for zarrflow to read

DTYPES = ["|b1", "|i1", "<i2", ">i2", "<i4", "<i8", "|u1", "<u2", ">u4", "<u8", "<f2", "<f4", ">f8", "<c8", "<c16"]


def compressors():
    out = []
    for cname in ["lz4", "zstd", "zlib"]:
        for shuffle in [0, 1, 2]:
            out.append((f"blosc-{cname}-{shuffle}", Blosc(cname=cname, clevel=5, shuffle=shuffle)))
    out += [
        ("zstd", Zstd(level=3)),
        ("lz4", LZ4(acceleration=1)),
        ("zlib", Zlib(level=5)),
        ("gzip", GZip(level=5)),
        ("none", None),
    ]
    return out


# Shapes with ragged edges (no dimension is a multiple of its chunk size).
SHAPES = {1: ((37,), (8,)), 2: ((11, 7), (4, 3)), 3: ((5, 6, 7), (2, 4, 3))}


def sample(dtype, shape, rng):
    dtype = np.dtype(dtype)
    n = int(np.prod(shape))
    if dtype.kind == "b":
        return (rng.random(shape) < 0.5).astype(dtype)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, size=shape, dtype=dtype.newbyteorder("=")).astype(dtype)
    if dtype.kind == "f":
        values = rng.standard_normal(n) * 1000
        if n > 8:
            values[[1, 3, 5, 7]] = [np.nan, np.inf, -np.inf, -0.0]
        return values.reshape(shape).astype(dtype)
    if dtype.kind == "c":
        re = rng.standard_normal(n) * 100
        im = rng.standard_normal(n) * 100
        if n > 8:
            re[2], im[4] = np.nan, -np.inf
        values = np.empty(n, dtype=np.complex128)
        values.real, values.imag = re, im
        return values.reshape(shape).astype(dtype)
    raise ValueError(dtype)


def fill_options(dtype):
    kind = np.dtype(dtype).kind
    if kind == "b":
        return [None, False, True]
    if kind in "iu":
        return [None, 0, 7]
    if kind == "f":
        return [float("nan"), None, -1.5]
    return [complex(float("nan"), 0), None, complex(1.5, -2.0)]


def partial_region(shape):
    """A region that is not chunk-aligned and leaves whole chunks unwritten."""
    return tuple(slice(1, max(2, n // 2)) for n in shape)


def write_matrix(folder):
    store = zarr.DirectoryStore(folder)
    root = zarr.group(store=store, overwrite=True)
    root.attrs.update({"written_by": "zarr-python", "version": zarr.__version__})
    manifest = {"zarr": zarr.__version__, "numcodecs": numcodecs.__version__, "arrays": [], "groups": {}}

    cases = []
    i = 0
    for dtype in DTYPES:
        for name, compressor in compressors():
            ndim = 1 + i % 3
            order = "CF"[i % 2]
            separator = "./"[(i // 2) % 2]
            fill = fill_options(dtype)[(i // 12 + i) % 3]
            # Every fifth array is only partly written: the rest reads as fill.
            partial = i % 5 == 0
            cases.append((dtype, name, compressor, ndim, order, separator, fill, partial))
            i += 1
    # Explicit corner cases on top of the rotating matrix.
    cases += [
        ("<f4", "blosc-lz4-1", Blosc(cname="lz4", clevel=5, shuffle=1), 2, "F", "/", float("nan"), True),
        (">f8", "zstd", Zstd(level=1), 3, "C", ".", float("nan"), True),
        ("<i2", "none", None, 3, "F", "/", None, True),
        ("<c16", "gzip", GZip(level=1), 2, "C", "/", None, True),
        ("|b1", "zlib", Zlib(level=1), 1, "C", ".", True, True),
    ]

    for index, (dtype, name, compressor, ndim, order, separator, fill, partial) in enumerate(cases):
        shape, chunks = SHAPES[ndim]
        path = f"matrix/{index:03d}_{dtype.replace('<', 'le').replace('>', 'be').replace('|', '')}_{name}_{ndim}d_{order}"
        rng = np.random.default_rng(1000 + index)
        data = sample(dtype, shape, rng)
        arr = root.create_dataset(
            path,
            shape=shape,
            chunks=chunks,
            dtype=dtype,
            compressor=compressor,
            order=order,
            fill_value=fill,
            dimension_separator=separator,
            overwrite=True,
        )
        if partial:
            region = partial_region(shape)
            arr[region] = data[region]
            # Missing chunks read as the fill value, and zarrflow reads a null fill value as zero
            # (zarr-python leaves such elements uninitialised), so build the expectation by hand.
            expected = np.zeros(shape, dtype=dtype) if fill is None else np.full(shape, fill, dtype=dtype)
            expected[region] = data[region]
            if fill is not None:
                got = arr[...]
                assert np.array_equal(got, expected, equal_nan=dtype[1] in "fc"), path
        else:
            arr[...] = data
            expected = arr[...]
        manifest["arrays"].append(
            {
                "path": path,
                "dtype": dtype,
                "codec": name,
                "compressor": None if compressor is None else compressor.get_config(),
                "order": order,
                "dimension_separator": separator,
                "shape": list(shape),
                "chunks": list(chunks),
                "fill_value": json_scalar(fill, dtype),
                "partial": partial,
                "chunk_keys": chunk_keys(os.path.join(folder, path)),
                "data": le_bytes(expected),
            }
        )

    # A hierarchy with attributes (and consolidated metadata at its root).
    tree = root.create_group("tree")
    tree.attrs.update({"title": "from zarr-python", "nested": {"list": [1, 2.5, "three", None, True]}, "unicode": "ñ✓"})
    sub = tree.create_group("sub group")
    sub.attrs["level"] = 2
    leaf = sub.create_dataset("leaf", shape=(3,), chunks=(2,), dtype="<i4", compressor=None)
    leaf[...] = [1, 2, 3]
    leaf.attrs.update({"units": "m", "scale": [0.5, 0.25]})
    tree.create_group("empty")
    zarr.consolidate_metadata(zarr.DirectoryStore(os.path.join(folder, "tree")))
    manifest["groups"] = {
        "": attrs_json(root.attrs),
        "tree": attrs_json(tree.attrs),
        "tree/sub group": attrs_json(sub.attrs),
        "tree/empty": {},
    }
    manifest["tree"] = {
        "children": sorted(tree.group_keys()) + sorted(tree.array_keys()),
        "leaf": {"path": "tree/sub group/leaf", "attrs": attrs_json(leaf.attrs), "data": le_bytes(leaf[...])},
    }
    json.dump(manifest, sys.stdout)


# ---------------------------------------------------------------------------------------------
# read: what zarr-python sees in arrays and groups written by zarrflow


def read_nodes(folder, request):
    out = {"zarr": zarr.__version__, "arrays": {}, "groups": {}}
    for path in request.get("arrays", []):
        try:
            arr = zarr.open(os.path.join(folder, path), mode="r")
            if not isinstance(arr, zarr.Array):
                raise TypeError(f"{path} is not an array")
            out["arrays"][path] = {
                "dtype": arr.dtype.str,
                "shape": list(arr.shape),
                "chunks": list(arr.chunks),
                "fill_value": json_scalar(arr.fill_value, arr.dtype),
                "order": arr.order,
                "compressor": None if arr.compressor is None else arr.compressor.get_config(),
                "filters": None if not arr.filters else [f.get_config() for f in arr.filters],
                "dimension_separator": arr._dimension_separator or ".",
                "chunk_keys": chunk_keys(os.path.join(folder, path)),
                "attrs": attrs_json(arr.attrs),
                "data": le_bytes(arr[...]),
            }
        except Exception as error:  # reported to the test, which fails with the message
            out["arrays"][path] = {"error": f"{type(error).__name__}: {error}"}
    for path in request.get("groups", []):
        try:
            group = zarr.open_group(os.path.join(folder, path) if path else folder, mode="r")
            out["groups"][path] = {
                "attrs": attrs_json(group.attrs),
                "groups": sorted(group.group_keys()),
                "arrays": sorted(group.array_keys()),
            }
        except Exception as error:
            out["groups"][path] = {"error": f"{type(error).__name__}: {error}"}
    json.dump(out, sys.stdout)


def main(argv):
    command = argv[1] if len(argv) > 1 else ""
    if command == "version":
        json.dump({"zarr": zarr.__version__, "numcodecs": numcodecs.__version__, "numpy": np.__version__}, sys.stdout)
    elif command == "write" and len(argv) == 3:
        write_matrix(argv[2])
    elif command == "read" and len(argv) == 3:
        read_nodes(argv[2], json.load(sys.stdin))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
