"""`scan --cluster`: the same scan read by Dask workers (a LocalCluster on this machine)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from conftest import run_cli
from drawing import REPO, digit_image, number_image, pdf_document

distributed = pytest.importorskip("distributed", reason="the --cluster tests need `pip install '.[test]'`")


@pytest.fixture(scope="module")
def cluster():
    """A two-worker LocalCluster (one thread each), as a scheduler a user would point --cluster at."""
    import logging

    local = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                     silence_logs=logging.CRITICAL)
    yield local
    local.close()


@pytest.fixture(scope="module")
def mixed_folder(tmp_path_factory):
    """Lone digits, numbers, a three-page PDF, a two-page TIFF, a broken file and a blank page."""
    folder = tmp_path_factory.mktemp("cluster") / "scans"
    for index in range(40):
        path = folder / str(index % 10) / f"d{index:02d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        digit_image(index % 10, size=96, width=4 + index % 5, seed=index).save(path)
    for index, text in enumerate(["90210", "4711", "305"]):
        (folder / text).mkdir()
        number_image(text, gap=0.3, seed=index)[0].save(folder / text / f"n{index}.png")
    (folder / "forms.pdf").write_bytes(pdf_document([number_image(text)[0] for text in ("12", "345", "6")]))
    digit_image(1, size=96, width=6).save(folder / "pages.tif", save_all=True,
                                         append_images=[digit_image(2, size=96, width=6)])
    (folder / "broken.png").write_bytes(b"not a picture")
    digit_image(0, size=96).point(lambda v: 255).save(folder / "blank.png")
    return folder


def _outputs(out) -> tuple[list, str]:
    document = json.loads((out / "results.json").read_text(encoding="utf-8"))
    return document["items"], (out / "results.csv").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def local_outputs(mixed_folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("local") / "report"
    result = run_cli("scan", str(mixed_folder), "-o", str(out), "-j", "2", "-q")
    assert result.returncode == 1, result.stderr  # the broken file
    return _outputs(out)


def test_a_scan_on_a_cluster_writes_what_a_local_scan_writes(cluster, mixed_folder, local_outputs, tmp_path):
    out = tmp_path / "report"
    result = run_cli("scan", str(mixed_folder), "-o", str(out), "--cluster", cluster.scheduler_address, "-q")
    assert result.returncode == 1 and result.stderr.strip() == "batchdigits: 1 file(s) could not be read; see the report"
    items, table = _outputs(out)
    assert items == local_outputs[0] and table == local_outputs[1]  # digits, confidences, boxes, order
    assert len(items) == 40 + 3 + 3 + 2 + 2
    again = run_cli("scan", str(mixed_folder), "-o", str(out), "--cluster", cluster.scheduler_address)
    assert again.returncode == 0 and "0 read now, 47 unchanged" in again.stdout  # 47 files: the ledger, kept by the client


def test_the_address_can_come_from_the_environment_and_local_n_starts_workers(mixed_folder, local_outputs, tmp_path):
    result = run_cli("scan", str(mixed_folder), "-o", str(tmp_path / "report"), "-q", env={"BATCHDIGITS_CLUSTER": "local:2"})
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert _outputs(tmp_path / "report") == local_outputs


@pytest.fixture(scope="module")
def many(tmp_path_factory):
    """400 drawings of 200 px (long enough a run to kill something in) and a local scan's outputs."""
    root = tmp_path_factory.mktemp("many")
    folder = root / "many"
    for index in range(400):
        path = folder / str(index % 10) / f"d{index:03d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        digit_image(index % 10, size=200, width=5 + index % 7, seed=index).save(path)
    local = run_cli("scan", str(folder), "-o", str(root / "local"), "-j", "2", "-q")
    assert local.returncode == 0, local.stderr
    return folder, _outputs(root / "local")


def _start_scan(folder, out, address) -> subprocess.Popen:
    environment = {key: value for key, value in os.environ.items() if key != "BATCHDIGITS_DEBUG"}
    return subprocess.Popen([sys.executable, "-m", "batchdigits", "scan", str(folder), "-o", str(out),
                             "--cluster", address, "-q"],
                            cwd=REPO, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_worker_killed_mid_run_loses_and_repeats_nothing(cluster, many, tmp_path):
    folder, local = many
    scan = _start_scan(folder, tmp_path / "report", cluster.scheduler_address)
    client = distributed.Client(cluster.scheduler_address, set_as_default=False)
    try:
        deadline = time.monotonic() + 120
        while not _executing(client) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _executing(client), "the scan never reached the workers"
        time.sleep(0.3)  # inside a batch
        victim = next(iter(cluster.workers.values()))
        os.kill(victim.process.process.pid, signal.SIGKILL)
        _, stderr = scan.communicate(timeout=600)
    finally:
        client.close()
    assert scan.returncode == 0, stderr
    assert _outputs(tmp_path / "report") == local


def _ledger_rows(out) -> int:
    import sqlite3

    from batchdigits.ledger import STATE_NAME

    try:
        with sqlite3.connect(f"file:{out / STATE_NAME}?mode=ro", uri=True, timeout=1) as db:
            return db.execute("SELECT count(*) FROM files").fetchone()[0]
    except sqlite3.Error:
        return 0


def test_a_client_killed_mid_run_goes_on_from_there_on_the_next_run(cluster, many, tmp_path):
    folder, local = many
    out = tmp_path / "report"
    scan = _start_scan(folder, out, cluster.scheduler_address)
    deadline = time.monotonic() + 120
    while _ledger_rows(out) == 0:
        assert scan.poll() is None, "the run ended before it committed a batch"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    scan.kill()
    scan.wait()
    committed = _ledger_rows(out)
    assert 0 < committed < 400 and not (out / "results.json").exists()
    again = run_cli("scan", str(folder), "-o", str(out), "--cluster", cluster.scheduler_address, "-q")
    assert again.returncode == 0, again.stderr
    assert _outputs(out) == local
    run = json.loads((out / "results.json").read_text())["run"]
    assert run["unchanged"] == committed and run["processed"] == 400 - committed  # nothing read twice


def _executing(client) -> bool:
    return any(client.processing().values())


def test_a_worker_that_cannot_see_the_folder_fails_each_file_saying_so(cluster, tmp_path, bundled_model):
    from batchdigits.recognition.cluster import WorkerModel, _model_plugin, installed_versions, read_on_worker
    from batchdigits.recognition.runner import FileJob

    client = distributed.Client(cluster.scheduler_address, set_as_default=False)
    try:
        payload = bundled_model.path.read_bytes()
        client.register_plugin(_model_plugin(WorkerModel(bundled_model.card, payload, installed_versions())),
                               name="batchdigits-test-model")
        gone = tmp_path / "not-mounted"
        results = client.submit(read_on_worker, [FileJob(gone / "a.png"), FileJob(gone / "b.png")],
                                bundled_model.card.sha256, str(gone), pure=False).result()
    finally:
        client.close()
    assert [result.outcome for result in results] == ["failed", "failed"]
    assert all(f"cannot see {gone}" in result.reason and "cluster worker tcp://" in result.reason for result in results)


@pytest.mark.parametrize("damaged, message", [
    (False, "the client batchdigits 0.0.0-other with scikit-learn"),
    (True, "the model arrived damaged"),
])
def test_a_worker_that_differs_from_the_client_stops_the_run(cluster, mixed_folder, bundled_model, damaged, message):
    import hashlib
    from dataclasses import replace

    from batchdigits.recognition.cluster import ClusterError, WorkerModel, _model_plugin, installed_versions, iter_on_cluster

    payload = bundled_model.path.read_bytes() + (b"\1" if damaged else b"\0")  # a model no worker holds yet
    card = replace(bundled_model.card, sha256=hashlib.sha256(payload).hexdigest())
    versions = installed_versions() if damaged else ("0.0.0-other", installed_versions()[1])
    client = distributed.Client(cluster.scheduler_address, set_as_default=False)
    try:
        client.register_plugin(_model_plugin(WorkerModel(card, payload[:-1] if damaged else payload, versions)),
                               name=f"batchdigits-test-{damaged}")
        with pytest.raises(ClusterError, match=message):
            list(iter_on_cluster(client, [mixed_folder / "0" / "d00.png"], card.sha256, str(mixed_folder)))
    finally:
        client.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_address_where_nothing_listens_is_one_clear_line_and_exit_3(mixed_folder, tmp_path):
    address = f"tcp://127.0.0.1:{_free_port()}"
    result = run_cli("scan", str(mixed_folder), "-o", str(tmp_path / "report"), "--cluster", address, timeout=120)
    assert result.returncode == 3
    assert result.stderr.startswith(f"batchdigits: cannot reach the Dask scheduler at {address}")
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert not (tmp_path / "report" / "results.json").exists()


@pytest.mark.parametrize("args, message", [
    (["--cluster", "nowhere"], "expected local:N or a scheduler address"),
    (["--cluster", "local:0"], "local:N needs N"),
    (["--cluster", "local:2", "-j", "2"], "--jobs and --cluster do not go together"),
])
def test_a_malformed_cluster_option_is_a_usage_error(mixed_folder, tmp_path, args, message):
    result = run_cli("scan", str(mixed_folder), "-o", str(tmp_path / "report"), *args)
    assert result.returncode == 2 and message in result.stderr and result.stderr.count("\n") == 1


def test_without_dask_the_option_says_how_to_install_it_and_help_never_loads_it(mixed_folder, tmp_path):
    hide = ("import sys; sys.modules['distributed'] = None; sys.argv = ['batchdigits', 'scan', %r, '-o', %r, "
            "'--cluster', 'local:2']; from batchdigits.cli import main; main()") % (str(mixed_folder), str(tmp_path / "r"))
    result = subprocess.run([sys.executable, "-c", hide], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr == "batchdigits: --cluster needs Dask's distributed scheduler: pip install 'batchdigits[dask]'\n"
    probe = ("import sys, runpy; sys.argv = ['batchdigits', 'scan', '--help']\n"
             "try:\n    runpy.run_module('batchdigits', run_name='__main__')\nexcept SystemExit:\n    pass\n"
             "print(sorted(name for name in sys.modules if name.split('.')[0] in ('dask', 'distributed')))")
    help_run = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert "--cluster" in help_run.stdout and help_run.stdout.strip().endswith("[]")


def test_a_scheduler_without_workers_is_a_clear_error(monkeypatch, mixed_folder, bundled_model):
    import logging

    from batchdigits.recognition import cluster as module

    monkeypatch.setattr(module, "WORKERS_SECONDS", 1)
    empty = distributed.LocalCluster(n_workers=0, dashboard_address=None, silence_logs=logging.CRITICAL)
    try:
        with pytest.raises(module.ClusterError, match="has had no worker for 1 s"):
            with module.cluster_reader(module.parse_cluster(empty.scheduler_address), bundled_model.card,
                                       bundled_model.path.read_bytes(), mixed_folder):
                pass
    finally:
        empty.close()
