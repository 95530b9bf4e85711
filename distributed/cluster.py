"""Joining or starting Ray, and budgeting its resources: what one trial reserves, how many run at
once, and a storage check that refuses one node's disk on a cluster (ray-notes.md section 3)."""

from __future__ import annotations

import math
import os
import time

import ray
from ray.autoscaler.sdk import request_resources

from distributed.settings import ROOT, SearchError, SearchSettings
from distributed.storage import is_uri


def trial_resources(s: SearchSettings) -> dict[str, float]:
    """What one trial reserves in total (driver plus workers)."""
    if s.workers_per_trial == 0:
        need = {"CPU": s.cpus_per_worker, "GPU": s.gpus_per_worker}
    else:
        n = s.workers_per_trial
        need = {"CPU": n * s.cpus_per_worker, "GPU": n * s.gpus_per_worker, "trial_driver": 1.0}
    return {k: v for k, v in need.items() if v > 0}


def concurrency(need: dict[str, float], available: dict[str, float]) -> int:
    """How many trials fit at once."""
    return int(min(math.floor(available.get(k, 0.0) / v + 1e-9) for k, v in need.items()))


def plan_concurrency(s: SearchSettings, log) -> int:
    """max_concurrent_trials from the cluster's resources; waits (bounded) for an autoscaler to add some."""
    need = trial_resources(s)
    n = concurrency(need, ray.cluster_resources())
    if n == 0 and joined_cluster(s):
        # An autoscaling cluster may have no GPU node yet: ask for one trial's worth and wait, bounded.
        bundle = {k: v for k, v in need.items() if k != "trial_driver"}
        per_worker = {k: v / max(1, s.workers_per_trial) for k, v in bundle.items()}
        request_resources(bundles=[per_worker] * max(1, s.workers_per_trial))
        log(f"waiting up to {s.resource_wait_s:.0f}s for the cluster to offer one trial's resources {need}")
        deadline = time.monotonic() + s.resource_wait_s
        while n == 0 and time.monotonic() < deadline:
            time.sleep(5)
            n = concurrency(need, ray.cluster_resources())
    if n == 0:
        have = {k: ray.cluster_resources().get(k, 0) for k in need}
        raise SearchError(
            f"one trial needs {need} but the cluster has {have}: lower --workers-per-trial, "
            "--cpus-per-worker or --gpus-per-worker, or add nodes"
        )
    if s.max_concurrent:
        return max(1, min(s.max_concurrent, s.trials))  # an autoscaling cluster may grow past today's resources
    return max(1, min(n, s.trials))


def joined_cluster(s: SearchSettings) -> bool:
    """True when the search joins a running cluster rather than starting a local Ray."""
    return bool(s.address or os.environ.get("RAY_ADDRESS"))


def init_ray(s: SearchSettings, log=print) -> bool:
    """Join the given cluster, or start a local Ray sized for this machine. Returns True if we started it."""
    if ray.is_initialized():
        return False
    # Workers import core/ and distributed/: from the installed package, or from this checkout.
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    runtime_env = {"env_vars": {"PYTHONPATH": path}}
    if joined_cluster(s):
        ray.init(address=s.address or os.environ["RAY_ADDRESS"], runtime_env=runtime_env, log_to_driver=s.verbose)
        return True
    # Local only (these reach the Train controller's env through the local raylet): the preemption
    # watcher is noise on one machine; a faster health check cuts ~4 s off every TorchTrainer run.
    os.environ.setdefault("RAY_TRAIN_ENABLE_PREEMPTION_WATCHER", "0")
    os.environ.setdefault("RAY_TRAIN_HEALTH_CHECK_INTERVAL_S", "0.25")
    cpus = s.num_cpus or os.cpu_count() or 1
    try:
        ray.init(
            num_cpus=cpus,
            resources={"trial_driver": max(64, cpus)},
            runtime_env=runtime_env,
            log_to_driver=s.verbose,
            configure_logging=True,
            logging_level="WARNING",
        )
    except ValueError as e:
        if "existing cluster" in str(e):
            raise SearchError(
                "a Ray cluster started with `ray start` runs on this machine (or left its "
                "ray_current_cluster file behind): pass --address auto to use it"
            ) from e
        raise
    log(f"started a local Ray with {cpus} CPUs")
    return True


def alive_nodes() -> int:
    """Nodes of the cluster that are up now."""
    return sum(1 for n in ray.nodes() if n.get("Alive"))


def check_storage(storage: str, s: SearchSettings) -> None:
    """Refuse a node-local path where trials on other nodes would write checkpoints to their own disks."""
    if is_uri(storage) or s.shared_storage:
        return
    nodes = alive_nodes()
    grows = joined_cluster(s) and s.gpus_per_worker > 0 and not ray.cluster_resources().get("GPU")
    if nodes > 1 or grows:
        why = f"the cluster has {nodes} nodes" if nodes > 1 else "the cluster will add GPU nodes"
        raise SearchError(
            f"--storage {storage} is a folder on this node's disk, but {why}: trials elsewhere would write "
            "their checkpoints to their own disks and the search could not resume or export them. Use a "
            "bucket (--storage s3://BUCKET/xmlai) or a shared file system mounted at the same path on every "
            "node (then add --shared-storage)."
        )
