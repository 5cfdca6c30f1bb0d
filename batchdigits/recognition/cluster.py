"""Reading a scan's files on a Dask cluster: the same worker code as a local scan, run by Dask
workers that see the files on a shared file system and classify with the client's model.

Imported only for `scan --cluster`: Dask is an optional extra, and plain runs never load it.
The client keeps everything that is written (the ledger, results, the report); workers only
read files and return their classified candidates, so a run's results are those of a local run.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from batchdigits import __version__
from batchdigits.errors import BatchDigitsError, ExitCode
from batchdigits.recognition.runner import FILES_PER_TASK, FileJob, ProcessedFile, classify_processed, process_many

CLUSTER_ENV = "BATCHDIGITS_CLUSTER"
INSTALL_HINT = "pip install 'batchdigits[dask]'"
CONNECT_SECONDS = 10  # a scheduler that has not answered by then is not there
WORKERS_SECONDS = 120  # a scheduler without a worker for this long is not going to read anything
TASKS_PER_THREAD = 4  # batches queued per worker thread: it never waits, and memory stays bounded


class ClusterError(BatchDigitsError):
    """The cluster cannot be used: not reachable, lost mid-run, or its workers differ from this client (exit 3)."""

    exit_code = ExitCode.FATAL


class ClusterUsageError(BatchDigitsError):
    """--cluster is malformed, or Dask is not installed (exit 2)."""

    exit_code = ExitCode.USAGE


@dataclass(frozen=True)
class ClusterAddress:
    """Where to run: `local` workers started here (a LocalCluster of `workers` processes), or
    the scheduler at `address` (tcp://host:8786, tls://..., or host:port)."""

    local: bool
    workers: int = 0
    address: str = ""

    def __str__(self) -> str:
        return f"local:{self.workers}" if self.local else self.address


def parse_cluster(spec: str) -> ClusterAddress:
    """`local:N` or a scheduler address -> ClusterAddress; ClusterUsageError for anything else,
    and when Dask's distributed scheduler is not installed."""
    try:
        import distributed  # noqa: F401 - only to know it is there
    except ImportError:
        raise ClusterUsageError(f"--cluster needs Dask's distributed scheduler: {INSTALL_HINT}") from None
    spec = spec.strip()
    if spec.startswith("local:"):
        count = spec.removeprefix("local:")
        if not (count.isdigit() and 0 < int(count) <= 1024):
            raise ClusterUsageError(f"--cluster {spec}: local:N needs N, the worker processes, from 1 to 1024")
        return ClusterAddress(local=True, workers=int(count))
    scheme, _, rest = spec.rpartition("://")
    host, _, port = rest.rpartition(":")
    if scheme not in ("", "tcp", "tls", "ucx", "ws", "wss") or not host or not port.isdigit():
        raise ClusterUsageError(f"--cluster {spec}: expected local:N or a scheduler address such as tcp://host:8786")
    return ClusterAddress(local=False, address=spec if scheme else f"tcp://{spec}")


@dataclass(frozen=True)
class WorkerModel:
    """The client's model as each worker receives it: the card, the file's bytes (sha256 checked
    on arrival), and the versions of batchdigits and scikit-learn that made the client's glyphs."""

    card: object  # recognition.model.ModelCard
    payload: bytes
    versions: tuple[str, str]


_models: dict[str, object] = {}  # on a worker: model sha256 -> LoadedModel, or the reason it cannot be used
_models_lock = threading.Lock()


def installed_versions() -> tuple[str, str]:
    """(batchdigits, scikit-learn) versions of this process."""
    from importlib.metadata import version

    return __version__, version("scikit-learn")


def load_on_worker(model: WorkerModel) -> None:
    """Unpickle the model once in this worker process, after checking the bytes and versions."""
    sha256 = model.card.sha256
    with _models_lock:
        if sha256 in _models:
            return
        if hashlib.sha256(model.payload).hexdigest() != sha256:
            _models[sha256] = "the model arrived damaged (its sha256 differs from the client's)"
        elif installed_versions() != model.versions:
            mine, theirs = installed_versions(), model.versions
            _models[sha256] = (f"it runs batchdigits {mine[0]} with scikit-learn {mine[1]}, the client batchdigits "
                               f"{theirs[0]} with scikit-learn {theirs[1]}: install the same on the workers")
        else:
            from batchdigits.recognition.model import unpickle_model

            try:
                _models[sha256] = unpickle_model(Path(model.card.name), model.card, model.payload)
            except BatchDigitsError as exc:
                _models[sha256] = str(exc)


class WorkerDiffers(Exception):
    """Raised on a worker that cannot read for this client (its model or versions differ)."""


def read_on_worker(jobs: Sequence[FileJob], sha256: str, root: str) -> list[ProcessedFile]:
    """A batch of files read and classified on a cluster worker, as a local scan reads them; a
    worker that cannot see the input folder gives each file a failed result that says so."""
    from distributed import get_worker

    worker = get_worker()
    model = _models.get(sha256)
    if model is None or isinstance(model, str):
        raise WorkerDiffers(f"cluster worker {worker.address}: "
                            f"{model or 'the model did not reach it (its plugin did not run)'}")
    if not os.path.isdir(root):
        reason = f"cluster worker {worker.address} cannot see {root}: the files must be on a file system the workers share"
        return [ProcessedFile("failed", reason=reason) for _ in jobs]
    return classify_processed(process_many(jobs), model)


def _model_plugin(model: WorkerModel):
    """A Dask WorkerPlugin that loads `model` on every worker, those that join or restart later too."""
    # Defined here, not at module level: this module must import without Dask, to say how to get it.
    from distributed import WorkerPlugin

    class LoadModel(WorkerPlugin):
        def setup(self, worker) -> None:
            load_on_worker(model)

    return LoadModel()


@contextmanager
def cluster_reader(where: ClusterAddress, card, payload: bytes, root: Path) -> Iterator[Callable]:
    """Connect to (or start) the cluster, load the model on its workers, and give a reader with
    runner.iter_processed's signature that reads on the workers; everything is closed after."""
    from distributed import Client, LocalCluster
    # Dask logs to stderr, which cron mails: only its errors reach the user.
    for name in ("distributed", "tornado", "asyncio"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    cluster = None
    try:
        if where.local:
            cluster = LocalCluster(n_workers=where.workers, threads_per_worker=1, processes=True,
                                   dashboard_address=None, silence_logs=logging.CRITICAL)
            client = Client(cluster, set_as_default=False)
        else:
            client = Client(where.address, timeout=CONNECT_SECONDS, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        if cluster is not None:
            cluster.close()
        raise ClusterError(f"cannot reach the Dask scheduler at {where}: {_short(exc)}") from None
    try:
        try:
            client.wait_for_workers(1, timeout=WORKERS_SECONDS)
        except TimeoutError:
            raise ClusterError(f"the Dask scheduler at {where} has had no worker for {WORKERS_SECONDS} s") from None
        model = WorkerModel(card=card, payload=payload, versions=installed_versions())
        client.register_plugin(_model_plugin(model), name=f"batchdigits-model-{card.sha256[:16]}")
        root_text = str(root.resolve())

        def read(files: Sequence[Path | FileJob], *, jobs: int = 0, per_task: int = FILES_PER_TASK,
                 inline_below: int = 0) -> Iterator[tuple[int, ProcessedFile]]:
            return iter_on_cluster(client, files, card.sha256, root_text, per_task=per_task)

        yield read
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def iter_on_cluster(client, files: Sequence[Path | FileJob], sha256: str, root: str, *,
                    per_task: int = FILES_PER_TASK) -> Iterator[tuple[int, ProcessedFile]]:
    """Yield (index into `files`, result) for every file as the workers finish them (any order),
    a few batches queued per worker thread at a time. A batch whose workers died is read again
    file by file; a file that still kills them fails with that reason."""
    from concurrent.futures import CancelledError

    from distributed import KilledWorker, as_completed

    work = [item if isinstance(item, FileJob) else FileJob(item) for item in files]
    batches = [list(range(start, min(start + per_task, len(work)))) for start in range(0, len(work), per_task)]
    batches.reverse()  # popped from the end: the first batch goes first
    indexes = {}

    def queue_length() -> int:  # asked again as batches finish: a cluster may grow or shrink mid-run
        return TASKS_PER_THREAD * max(1, sum(client.nthreads().values()))

    def submit(batch: list[int]):
        future = client.submit(read_on_worker, [work[i] for i in batch], sha256, root, pure=False)
        indexes[future.key] = batch
        return future

    if not batches:
        return
    running = as_completed([submit(batches.pop()) for _ in range(min(len(batches), queue_length()))],
                           loop=client.loop)
    for future in running:
        batch = indexes.pop(future.key)
        try:
            results = future.result()
        except WorkerDiffers as exc:
            raise ClusterError(str(exc)) from None
        except KilledWorker as exc:
            if len(batch) > 1:  # read its files one at a time, to find the one that kills workers
                batches.extend([index] for index in reversed(batch))
                results = []
            else:
                results = [ProcessedFile("failed", reason=f"reading it stopped a cluster worker each time ({exc.__class__.__name__})")]
        except (OSError, TimeoutError, CancelledError) as exc:
            raise ClusterError(f"lost the Dask cluster mid-run ({_short(exc)}); the next run goes on from here") from None
        except Exception as exc:  # a worker's bug: stop, as a local run would, with the reason
            raise ClusterError(f"a cluster worker failed: {type(exc).__name__}: {_short(exc)}") from None
        for index, processed in zip(batch, results):
            yield index, processed
        wanted = queue_length() if batches else 0
        while batches and running.count() < wanted:
            running.add(submit(batches.pop()))


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
