"""
One zarr-python peer of the side-by-side bench (bench/lib/peers.ts), run in its own process with
the zarr-python oracle on PYTHONPATH (its setup.sh prints the command). Not project code: it only
times zarr-python's public API (open_array / create_array, [...] get and set).

    <oracle python> bench/peer_zarr_python.py '<job JSON>'

The job names the pipeline ("fused" | "batched"), the operation ("read" | "write"), the store
root and array path of the source array (written by zarrflow), and for writes the folder to
write into. The process prepares (opens the array; for writes, loads the source data once,
untimed), prints {"ready": ...} and then answers one JSON line per command read on stdin:
"run" times one call and prints {"wallMs", "cpuMs"} (CPU = user + sys of every thread of the
process, getrusage(RUSAGE_SELF)); "quit" ends it.
"""
import json
import os
import resource
import shutil
import sys
import time
import warnings

PIPELINES = {
    "fused": "zarr.core.codec_pipeline.FusedCodecPipeline",
    "batched": "zarr.core.codec_pipeline.BatchedCodecPipeline",
}


def cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main():
    job = json.loads(sys.argv[1])
    warnings.filterwarnings("ignore")
    import numpy as np
    import zarr

    zarr.config.set({"codec_pipeline.path": PIPELINES[job["pipeline"]]})
    src = zarr.open_array(job["root"], path=job["path"], mode="r")
    expect = job.get("check")  # [[coords...], value] pairs computed by the bench

    def check(data):
        for coords, value in expect or []:
            got = int(data[tuple(coords)])
            if got != value:
                raise SystemExit(f"zarr-python read {got} at {coords}, expected {value}")

    if job["op"] == "read":
        def run(n):
            return src[...]

        def after(n, result):
            if n == 0:
                check(result)
    else:
        data = src[...]
        check(data)
        spec = dict(
            shape=src.shape,
            dtype=src.dtype,
            chunks=src.chunks,
            shards=src.shards,
            compressors=src.compressors,
            serializer=src.serializer,
            fill_value=src.fill_value,
        )
        state = {}

        def run(n):
            target = os.path.join(job["out"], f"run{n}")
            state["target"] = target
            arr = zarr.create_array(target, **spec)
            t = time.perf_counter()
            c = cpu_seconds()
            arr[...] = data
            return (time.perf_counter() - t, cpu_seconds() - c)

        def after(n, result):
            if n == 0:
                check(zarr.open_array(state["target"], mode="r")[...])
            shutil.rmtree(state["target"], ignore_errors=True)

    print(json.dumps({"ready": zarr.__version__, "pipeline": PIPELINES[job["pipeline"]]}), flush=True)
    n = 0
    for line in sys.stdin:
        command = line.strip()
        if command == "quit":
            break
        if command != "run":
            continue
        t = time.perf_counter()
        c = cpu_seconds()
        result = run(n)
        wall, cpu = time.perf_counter() - t, cpu_seconds() - c
        if isinstance(result, tuple):  # writes time the set alone (not the array creation)
            wall, cpu = result
        after(n, result)
        n += 1
        print(json.dumps({"wallMs": wall * 1000, "cpuMs": cpu * 1000}), flush=True)


if __name__ == "__main__":
    main()
