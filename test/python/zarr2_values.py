"""zarr-python 2.x reader for zarrflow's extended-type interop tests (test/types-interop.test.ts).

Usage: python3 zarr2_values.py <store-folder> <array-path>

Prints one JSON line {"dtype": <numpy dtype str or descr>, "shape": [...], "fill_value": ...,
"values": <the array's contents in the fixtures' value format>}: for strings a list of str; for
bytes a list of base64 (|S without trailing NULs, |V at full width); for vlen arrays a list of
lists; for datetimes, structs and numbers the base64 of the C-order little-endian bytes (struct
fields packed, each little-endian).
"""

import base64
import json
import sys

import numpy as np
import zarr


def packed_le(arr):
    dt = arr.dtype
    if dt.names:
        fields = [(name, dt.fields[name][0].newbyteorder("<")) for name in dt.names]
        return np.ascontiguousarray(arr.astype(np.dtype(fields))).tobytes()
    return np.ascontiguousarray(arr.astype(dt.newbyteorder("<"))).tobytes()


def values_of(arr):
    flat = arr.reshape(-1)
    kind = arr.dtype.kind
    if kind == "O":
        out = []
        for v in flat:
            if isinstance(v, str):
                out.append(v)
            elif isinstance(v, bytes):
                out.append(base64.b64encode(v).decode("ascii"))
            else:
                out.append([int(x) for x in np.asarray(v).tolist()])
        return out
    if kind == "U":
        return [str(v) for v in flat]
    if kind == "S":
        return [base64.b64encode(bytes(v)).decode("ascii") for v in flat]
    if kind == "V" and not arr.dtype.names:
        return [base64.b64encode(v.tobytes()).decode("ascii") for v in flat]
    return base64.b64encode(packed_le(arr)).decode("ascii")


def main():
    store, path = sys.argv[1], sys.argv[2]
    a = zarr.open_array(zarr.DirectoryStore(store), path=path, mode="r")
    data = a[...]
    fill = a.fill_value
    if isinstance(fill, bytes):
        fill = base64.b64encode(fill).decode("ascii")
    elif isinstance(fill, np.generic):
        fill = base64.b64encode(fill.tobytes()).decode("ascii") if fill.dtype.kind in "VSmM" else fill.item()
    print(json.dumps({"dtype": a.dtype.descr if a.dtype.names else a.dtype.str, "shape": list(a.shape), "fill_value": fill, "values": values_of(np.asarray(data))}))


main()
