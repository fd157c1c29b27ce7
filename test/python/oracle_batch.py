"""Runs many zarr-python oracle read.py / write.py calls in one process (numpy and zarr import once).

usage: <oracle python> oracle_batch.py <oracle-dir>   (jobs as JSON on stdin)

Jobs: [{"script": "read" | "write", "args": [...]}, ...], each argument list as the script's own
command line. Prints a JSON list with {"code", "stdout", "stderr"} per job, in order.
"""
import contextlib
import io
import json
import sys

sys.path.insert(0, sys.argv[1])
import read  # noqa: E402  (the oracle's own modules)
import write  # noqa: E402

results = []
for job in json.load(sys.stdin):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = {"read": read.main, "write": write.main}[job["script"]](job["args"])
        except SystemExit as e:  # argparse
            code = e.code if isinstance(e.code, int) else 2
        except Exception as e:  # noqa: BLE001
            print(f"{type(e).__name__}: {e}", file=sys.stderr)
            code = 1
    results.append({"code": code or 0, "stdout": out.getvalue(), "stderr": err.getvalue()})
print(json.dumps(results))
