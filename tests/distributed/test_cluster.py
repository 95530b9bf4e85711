"""A real multi-node Ray cluster on one machine (ray.cluster_utils.Cluster): a head with no CPU and two worker nodes of
one CPU each, each with its own custom resource.

- Ray Data preparation gets the exports' bytes from the driver: the export folder is deleted before the workers run,
  and the windows still equal the local engine's.
- A node-local storage path is refused on this cluster (3 nodes), a bucket or a declared shared folder is not.
- ``scripts/tune.py --address`` spreads its trials over both worker nodes (``--data-engine auto`` picks Ray Data);
  one worker node is then killed while its trial runs: the trial restarts from its last checkpoint on the surviving
  node and the search completes with every trial finished.
"""

from __future__ import annotations

import shutil
import socket
import tempfile
from types import SimpleNamespace

import pytest

from core.config import DataConfig
from core.data.synth import write_corpus
from distributed import data as ddata
from distributed.cluster import check_storage, init_ray
from distributed.settings import SearchError, SearchSettings
from tests.distributed.conftest import SMALL
from tests.distributed.drivers import (
    assert_same_prepared,
    checkpoints_written,
    start_tune,
    strike_while_running,
    trial_reports,
    tune_args,
)

pytestmark = pytest.mark.ray


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cluster():
    import ray
    from ray.cluster_utils import Cluster

    had_local = ray.is_initialized()
    if had_local:
        ray.shutdown()  # the session's local Ray: a process joins one cluster at a time; restarted below
    temp = tempfile.mkdtemp(prefix="xc", dir="/tmp")  # short: Ray's socket paths must stay under 108 bytes
    try:
        with pytest.MonkeyPatch.context() as mp:
            # Ray writes a started cluster's address to <temp>/ray/ray_current_cluster, and from then on a plain
            # ray.init() anywhere on this machine joins that cluster: keep the file out of the shared /tmp/ray.
            mp.setenv("RAY_TMPDIR", temp)
            c = Cluster(
                initialize_head=True,
                head_node_args={"num_cpus": 0, "resources": {"trial_driver": 8}, "dashboard_port": _free_port()},
            )
            try:
                a = c.add_node(num_cpus=1, resources={"node_a": 1})
                b = c.add_node(num_cpus=1, resources={"node_b": 1})
                c.wait_for_nodes()
                init_ray(SearchSettings(address=c.address), log=lambda s: None)
                yield SimpleNamespace(cluster=c, address=c.address, a=a, b=b, head=c.head_node)
            finally:
                ray.shutdown()
                c.shutdown()  # only the nodes this fixture started
    finally:
        shutil.rmtree(temp, ignore_errors=True)
        if had_local:
            init_ray(SearchSettings(num_cpus=2), log=lambda s: None)


def test_node_local_storage_is_refused_on_a_real_multi_node_cluster(cluster, tmp_path):
    with pytest.raises(SearchError, match=r"folder on this node's disk, but the cluster has 3 nodes.*s3://"):
        check_storage(str(tmp_path), SearchSettings())
    check_storage("s3://bucket/xmlai", SearchSettings())  # a bucket is fine
    check_storage(str(tmp_path), SearchSettings(shared_storage=True))  # so is a declared shared file system


def test_ray_data_ships_bytes_to_worker_nodes_and_equals_the_local_engine(cluster, tmp_path):
    import ray

    exports = tmp_path / "exports"
    write_corpus(exports, 8, 5)
    (exports / "broken.xml").write_bytes(b"<xmeml><sequence>not closed")
    cfg = DataConfig(data_dir=str(exports), **SMALL)
    files = ddata.input_files(cfg)
    local = ddata.prepare_local(cfg, files)

    refs, key = ddata.ship_files(files, cfg, blocks=3)
    shutil.rmtree(exports)  # gone from every node's disk: the workers can only use the bytes the driver shipped
    shipped = ddata.prepare_shipped(refs, cfg, key)

    assert_same_prepared(local, shipped)
    assert [name for name, _ in shipped.errors] == ["broken.xml"]
    assert key == local.meta["cache_key"]
    # the head has no CPU: every parse task ran on a worker node
    cpus = {n["NodeID"]: n["Resources"].get("CPU", 0) for n in ray.nodes() if n["Alive"]}
    assert cpus == {cluster.head.node_id: 0, cluster.a.node_id: 1, cluster.b.node_id: 1}


def _start_search(cluster, data_cfg, tmp_path, name: str, trials: int, epochs: int, *extra: str):
    """``scripts/tune.py`` on the cluster, storage shared by its nodes, every trial run to ``epochs`` (no early
    stop), two retries; returns (driver process, its log, the experiment folder)."""
    args = tune_args(
        data_cfg,
        *("--address", cluster.address, "--trials", str(trials), "--epochs", str(epochs)),
        *("--grace-period", str(epochs), "--max-failures", "2"),
        *("--storage", str(tmp_path), "--shared-storage", "--name", name, *extra),
    )
    log = tmp_path / "driver.log"
    return start_tune(args, log), log, tmp_path / name


def test_search_spreads_over_both_worker_nodes_and_survives_losing_one(cluster, data_cfg, tmp_path):
    a, b = cluster.a.node_id, cluster.b.node_id
    epochs = 5
    proc, log, exp = _start_search(cluster, data_cfg, tmp_path, "spread", 3, epochs, "--seed", "0")
    struck = {}

    def kill_node_a() -> bool:
        seen = checkpoints_written(exp)
        nodes = {c["node_id"] for cks in seen.values() for c in cks}
        # mid-way on node A with two checkpoints there, and Tune has recorded the first: the driver logged its
        # result, so the trial has a checkpoint to restart from (one on storage alone is not enough)
        on_a = [t for t, cks in seen.items() if [c["node_id"] for c in cks[-2:]] == [a, a]]
        said = log.read_text()
        on_a = [
            t for t in on_a if seen[t][-1]["epoch"] <= epochs - 2 and f"trial {t} epoch {seen[t][-2]['epoch']}/" in said
        ]
        if not ({a, b} <= nodes and on_a):  # trials ran on both nodes, and one is mid-way on node A
            return False
        struck.update(victim=on_a[0], last_on_a=seen[on_a[0]][-1]["epoch"])
        cluster.cluster.remove_node(cluster.a, allow_graceful=False)  # SIGKILL every process of node A
        return True

    strike_while_running(proc, log, 600, kill_node_a, "no trial ran on both nodes in time")
    victim, last_on_a = struck["victim"], struck["last_on_a"]
    out = log.read_text()
    assert proc.returncode == 0, out[-3000:]
    assert "prepared with the ray engine" in out  # --data-engine auto on a multi-node cluster
    assert "3 trials with results: 3 finished" in out and " 0 errors" in out, out[-3000:]

    after = trial_reports(exp)  # complete once the search has ended
    assert len(after) == 3 and all(lines[-1]["epoch"] == epochs for lines in after.values())  # every trial finished
    # The restarted trial's result.json starts from the copy on storage, which is Tune's last snapshot of it
    # (JsonLoggerCallback._restore_from_remote), so it may hold some, all or none of node A's lines: the
    # checkpoints on storage are the record of what ran on node A, and result.json of what ran after
    lines = after[f"trial_{victim}"]
    from_a = [r for r in lines if r["node_id"] == a]
    rest = [r["epoch"] for r in lines[len(from_a) :]]
    assert lines[: len(from_a)] == from_a and {r["node_id"] for r in lines[len(from_a) :]} == {b}, lines
    ran_on_a = [c["epoch"] for c in checkpoints_written(exp)[victim] if c["node_id"] == a]
    assert ran_on_a and ran_on_a == list(range(1, len(ran_on_a) + 1)), ran_on_a
    # restarted on the surviving node from the last checkpoint Tune had recorded (the latest, or the one before
    # if node A died while its latest report was on the way): never from epoch 1
    assert rest == list(range(rest[0], epochs + 1)) and 2 <= rest[0] <= last_on_a + 1, (rest, last_on_a)


@pytest.mark.slow
def test_ray_train_trial_survives_losing_the_node_of_its_worker(cluster, data_cfg, tmp_path):
    """The same with TorchTrainer trials (one DDP worker each, the Train controller on the head): the node running
    a trial's worker is killed, Ray Train restarts the worker group on the other node from its last checkpoint."""
    workers = [n for n in cluster.cluster.worker_nodes if n.any_processes_alive()]
    while len(workers) < 2:  # an earlier test removed one
        workers.append(cluster.cluster.add_node(num_cpus=1, resources={f"node_{len(workers)}x": 1}))
    cluster.cluster.wait_for_nodes()
    by_id = {n.node_id: n for n in workers}
    epochs = 5
    proc, log, exp = _start_search(
        cluster,
        data_cfg,
        tmp_path,
        "train",
        2,
        epochs,
        *("--max-concurrent", "1", "--workers-per-trial", "1", "--cpus-per-worker", "1"),
        *("--train.batch_size", "4"),  # epochs of a few seconds: the node is killed while one runs
    )
    struck = {}

    def kill_a_workers_node() -> bool:
        # mid-way, its last two kept checkpoints from one node (so Train has recorded at least the older one)
        midway = [
            (t, cks[-1])
            for t, cks in checkpoints_written(exp).items()
            if len(cks) >= 2 and cks[-2]["node_id"] == cks[-1]["node_id"] and 2 <= cks[-1]["epoch"] <= epochs - 2
        ]
        if not midway:
            return False
        struck["victim"], struck["last"] = midway[0]
        cluster.cluster.remove_node(by_id[struck["last"]["node_id"]], allow_graceful=False)
        return True

    strike_while_running(proc, log, 900, kill_a_workers_node, "no trial got mid-way in time")
    victim, last = struck["victim"], struck["last"]
    lost = last["node_id"]
    out = log.read_text()
    assert proc.returncode == 0, out[-3000:]
    assert "2 trials with results: 2 finished" in out and " 0 errors" in out, out[-3000:]
    lines = trial_reports(exp)[f"trial_{victim}"]  # complete once the search has ended (Train prunes checkpoints)
    on_lost = [r["epoch"] for r in lines if r["node_id"] == lost]
    rest = [r["epoch"] for r in lines if r["node_id"] != lost]
    assert on_lost and rest == list(range(rest[0], epochs + 1)), [(r["epoch"], r["node_id"][:6]) for r in lines]
    assert 2 <= rest[0] <= last["epoch"] + 1  # from its last recorded checkpoint, never from epoch 1
