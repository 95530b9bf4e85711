"""The search without Ray (``scripts/tune.py --debug``): the same space sampled by Optuna, each trial
trained in this process by the same loop, so any error surfaces with its full stack trace."""

from __future__ import annotations

import math
import time
from pathlib import Path

import optuna
import torch

import search_spaces
from core.config import Config
from core.data.preprocess import prepare
from core.learn.train_loop import LocalHooks, train
from distributed.results import describe, format_table
from distributed.samplers import sampler_of
from distributed.settings import OBJECTIVE, SearchResult, SearchSettings
from distributed.storage import resolve_storage


def debug_search(base: Config, s: SearchSettings, out_dir: str | None = None, log=print) -> SearchResult:
    """The search without Ray: sample the same space with Optuna and train each trial in this process.

    Seconds on a shrunk corpus, and any error surfaces with its full stack trace.
    """
    t0 = time.perf_counter()
    # One thread per trial, as in the Ray path: on a busy 2-core machine torch's default threads made a
    # 2-trial debug run take 74 s instead of 5 s.
    torch.set_num_threads(max(1, int(s.cpus_per_worker)))
    out = Path(out_dir or Path(resolve_storage(s.storage)) / f"debug-{time.strftime('%Y%m%d-%H%M%S')}")
    space = search_spaces.resolve(s.space)
    data = prepare(base.data)
    study = optuna.create_study(direction="minimize", sampler=sampler_of(s.searcher, s.seed, s.startup_trials))
    res = SearchResult(experiment_path=str(out), counts={"finished": 0, "stopped_early": 0, "errors": 0})
    for i in range(s.trials):
        trial = study.ask()
        derived = space(trial) or {}
        params = {**trial.params, **derived}
        cfg = search_spaces.config_of(base, {**params, "train.epochs": s.epochs})
        log(f"debug trial {i}: {describe(params, 200)}")
        tr = train(
            cfg, data, LocalHooks(out / f"trial_{i:03d}"), progress=False, log=log if s.verbose else (lambda _: None)
        )
        study.tell(trial, tr.best[OBJECTIVE])
        res.counts["finished"] += 1
        res.epochs += tr.epochs_run
        res.train_s += sum(h.get("epoch_time_s", 0.0) for h in tr.history)
        res.rows.append(
            {
                "trial_id": f"{i:03d}",
                "status": "done",
                "epochs": tr.epochs_run,
                "best_epoch": tr.best["epoch"],
                OBJECTIVE: tr.best[OBJECTIVE],
                "val_objective_ctx": tr.best.get("val_objective_ctx", math.nan),
                "noise_floor": (tr.noise_floor or {}).get("objective", math.nan),
                "params": params,
            }
        )
    res.rows.sort(key=lambda row: row[OBJECTIVE])
    res.wall_s = time.perf_counter() - t0
    log(format_table(res, s.top).replace("export the best: python scripts/export_best.py", "checkpoints under"))
    return res
