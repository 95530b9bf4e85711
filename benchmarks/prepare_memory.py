"""Peak memory of preparing a folder of exports, against its anchor: the prepared windows themselves.

    python benchmarks/prepare_memory.py [--data DIR] [--engine local|ray] [--workers N]

Preparation (parse, frame table, windows, assembly on disk, scalers) runs in a fresh child process with an empty
cache folder, so it prepares rather than loads. The child reports, against the bytes of the windows it prepared:

- its peak **anonymous** memory (``RssAnon``, sampled every 5 ms): what the process itself holds, the figure that
  decides whether a corpus fits a machine. The ratio is (peak - imports) / windows, the imports being the
  interpreter, numpy, pandas, lxml (with ``--engine ray`` also Ray's driver): 1.0 would hold the windows once at the
  peak, as any preparation that assembles them in memory must; assembly on disk (core.data.store) holds one file's.
- its peak resident memory (``ru_maxrss``), which also counts the pages of the prepared cache that the process has
  mapped and touched (the scalers read the training windows): page cache, shared with every process that maps the
  cache and given back under pressure.

With ``--engine ray`` the figures are the driver's, where the windows are assembled (the parsing happens in Ray's
worker processes), writing into a cache folder as ``distributed.data.prepare_cached`` does.
Default data: ../shared/corpus (the real corpora, 91 exports; $XMLAI_CORPUS overrides).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("XMLAI_CORPUS", ROOT.parent / "shared" / "corpus"))

CHILD = r"""
import json, resource, sys, threading, time
sys.path.insert(0, {root!r})
from core.config import config_from_dict
from core.data.preprocess import prepare

def status_mb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise SystemExit(f"no {{field}} in /proc/self/status (Linux only)")

peak_anon = [0.0]
def sample():
    while True:
        peak_anon[0] = max(peak_anon[0], status_mb("RssAnon"))
        time.sleep(0.005)
threading.Thread(target=sample, daemon=True).start()

cfg = config_from_dict({{"data": {{"data_dir": {data!r}, "cache_dir": {cache!r}, "workers": {workers}}}}})
if {engine!r} == "ray":
    import ray
    from distributed.data import prepare_ray
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    base, base_anon = status_mb("VmRSS"), status_mb("RssAnon")
    d = prepare_ray(cfg.data, folder={cache!r} + "/ray")
else:
    base, base_anon = status_mb("VmRSS"), status_mb("RssAnon")
    d = prepare(cfg.data)
time.sleep(0.02)  # one more sample after the end
windows = sum(v.nbytes for split in (d.train, d.val) for v in split.values()) / 2**20
print(json.dumps({{"peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "imports_mb": base,
                  "peak_anon_mb": peak_anon[0], "imports_anon_mb": base_anon,
                  "windows_mb": windows, "files": d.meta["n_files"], "errors": d.meta["n_errors"],
                  "windows": d.meta["n_train_windows"] + d.meta["n_val_windows"]}}))
"""


def measure(data: Path, engine: str, workers: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="xmlai-prepmem-") as cache:
        code = CHILD.format(root=str(ROOT), data=str(data), cache=cache, workers=workers, engine=engine)
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        raise SystemExit(f"preparation failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=CORPUS, help="folder of exports (default: the real corpora)")
    p.add_argument("--engine", choices=("local", "ray"), default="local")
    p.add_argument("--workers", type=int, default=0, help="data.workers for the local engine (0: in-process)")
    args = p.parse_args(argv)
    if not args.data.is_dir():
        print(f"no folder at {args.data} (set --data or XMLAI_CORPUS)", file=sys.stderr)
        return 2
    r = measure(args.data, args.engine, args.workers)
    print(f"{args.data}: {r['files']} files ({r['errors']} unreadable), {r['windows']:,} windows, engine {args.engine}")
    print(f"  prepared windows (anchor)  {r['windows_mb']:9,.0f} MB")
    anon, imports = r["peak_anon_mb"], r["imports_anon_mb"]
    print(f"  peak anonymous memory      {anon:9,.0f} MB  ({imports:,.0f} MB of it after the imports)")
    ratio = (anon - imports) / r["windows_mb"] if r["windows_mb"] else float("nan")
    print(f"  (peak - imports) / windows: {ratio:.2f} (1.0: the windows held once at the peak)")
    print(f"  peak resident memory       {r['peak_mb']:9,.0f} MB  (with the mapped cache's pages the process touched)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
