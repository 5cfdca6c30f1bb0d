"""`scan --cluster` against a local scan: the same folder read by a two-worker Dask cluster.

Run by hand (not collected by pytest; needs `pip install '.[dask]'`):

    python tests/benchmarks/bench_cluster.py [--files 20000] [--work DIR] [--keep]

It draws a corpus itself (64 and 200 px drawings, 400 px RGBA drawings, five-digit numbers),
starts a scheduler and two single-threaded workers as a user would (`dask scheduler`,
`dask worker --nworkers 2 --nthreads 1`), and prints, measured in one run on this machine:

- a local `scan -j 2` of the corpus: seconds;
- `scan --cluster tcp://...` of the same corpus into a fresh report folder: seconds, the ratio
  to the local run, and the peak resident memory of the client process (the workers are the
  cluster's, not the client's);
- `scan --cluster local:2` (the client starts the workers itself): seconds (unless
  `--no-local-cluster`);
- whether the runs wrote the same results.json items.

Targets (issue 31): cluster/local <= 1.3 on 20,000 images; client memory < 300 MB.
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_scan import timed_run  # noqa: E402
from drawing import digit_image, number_image  # noqa: E402

VARIANTS = 40  # distinct drawings per kind; the rest of the corpus repeats them under other names
KINDS = [(0.4, "drawing-64"), (0.3, "drawing-200"), (0.2, "drawing-400-rgba"), (0.1, "number-5")]


def draw(kind: str, index: int) -> bytes:
    """One PNG of `kind`, digit and pen chosen by `index`."""
    digit = index % 10
    if kind == "drawing-64":
        image = digit_image(digit, size=64, width=2, seed=index)
    elif kind == "drawing-200":
        image = digit_image(digit, size=200, width=3 + index % 6, seed=index)
    elif kind == "drawing-400-rgba":
        image = digit_image(digit, size=400, width=8, mode="RGBA", paper=(255, 255, 255, 0),
                            ink=(10, 10, 10, 255), seed=index)
    else:
        image = number_image(f"{index * 7919 % 100000:05d}", gap=0.3, seed=index)[0]
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def build_corpus(folder: Path, files: int) -> None:
    """Write `files` images of the kinds in their shares, in subfolders of 1,000."""
    counts = [round(share * files) for share, _ in KINDS]
    counts[0] += files - sum(counts)
    number = 0
    for (_, kind), count in zip(KINDS, counts):
        variants = [draw(kind, index) for index in range(VARIANTS)]
        for index in range(count):
            path = folder / f"batch{number // 1000:03d}" / f"{kind}_{index}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(variants[index % VARIANTS])
            number += 1


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_cluster(work: Path) -> tuple[str, list[subprocess.Popen]]:
    """A scheduler and two single-threaded worker processes, started with Dask's own commands."""
    address = f"tcp://127.0.0.1:{free_port()}"
    logs = (work / "dask.log").open("w")
    scheduler = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                                  "--port", address.rsplit(":", 1)[1], "--dashboard-address", ":0"],
                                 stdout=logs, stderr=logs)
    workers = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address, "--nworkers", "2",
                                "--nthreads", "1", "--no-dashboard"], stdout=logs, stderr=logs)
    from distributed import Client

    with Client(address, timeout=60) as client:
        client.wait_for_workers(2, timeout=120)
    return address, [workers, scheduler]


def items(out: Path) -> list:
    return json.loads((out / "results.json").read_text(encoding="utf-8"))["items"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=20000)
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the corpus and reports")
    parser.add_argument("--no-local-cluster", action="store_true", help="skip the --cluster local:2 run")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    corpus = work / "corpus"
    if not corpus.exists():
        build_corpus(corpus, args.files)
    scan = [sys.executable, "-m", "batchdigits", "scan", str(corpus), "-q"]
    for name in ("local", "cluster", "local-cluster"):
        shutil.rmtree(work / name, ignore_errors=True)

    local_seconds, local_peak, done = timed_run([*scan, "-o", str(work / "local"), "-j", "2"])
    assert done.returncode == 0, done.stderr
    print(f"local scan -j 2 of {args.files} images: {local_seconds:.1f} s (peak {local_peak / 2**20:.0f} MB with its workers)",
          flush=True)
    address, processes = start_cluster(work)
    try:
        cluster_seconds, client_peak, done = timed_run([*scan, "-o", str(work / "cluster"), "--cluster", address])
        assert done.returncode == 0, done.stderr
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=60)
    print(f"scan --cluster {address} (2 workers, 1 thread each): {cluster_seconds:.1f} s, "
          f"{cluster_seconds / local_seconds:.2f}x the local run; client peak {client_peak / 2**20:.0f} MB", flush=True)
    runs = ["local", "cluster"]
    if not args.no_local_cluster:
        started = time.perf_counter()
        done = subprocess.run([*scan, "-o", str(work / "local-cluster"), "--cluster", "local:2"],
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        print(f"scan --cluster local:2 (workers started by the client): {time.perf_counter() - started:.1f} s", flush=True)
        runs.append("local-cluster")
    same = all(items(work / name) == items(work / "local") for name in runs)
    print(f"the same results.json items in {', '.join(runs)}: {same}")
    if not args.keep and args.work is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
