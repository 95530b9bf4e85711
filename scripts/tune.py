"""Hyperparameter search on Ray: Optuna TPE + ASHA on val_objective (the constant baseline scores 1.0), then a refit.

Stage 1 samples cheaply (a small corpus and model budget, ASHA). Stage 2 retrains the --refit-top best
configurations at the full budget (the epochs and data `python scripts/train.py` would use, or your --config
and --data) beside the default config itself, on the same data and validation files, and exports the
better; the last line compares them. An HTML report (plots) is written into the experiment folder.

    python scripts/tune.py --trials 64                      # laptop: local Ray, built-in corpus
    python scripts/tune.py --trials 64 --time-budget 20     # the same, search and refit within 20 minutes
    python scripts/tune.py --space loss_weights --epochs 12
    python scripts/tune.py --space my_space.yaml            # or my_space.py (see search_spaces/__init__.py)
    python scripts/tune.py --resume [--name NAME]           # continue an interrupted search (either stage)
    python scripts/tune.py --data DIR                       # search on your own exports
    python scripts/tune.py --debug                          # 2 trials in-process on a tiny corpus, full tracebacks
    # on a cluster (ray up cluster.yaml): one GPU DDP worker per trial, results on a bucket
    python scripts/tune.py --address auto --trials 256 --workers-per-trial 1 --gpus-per-worker 1 \\
        --storage s3://BUCKET/xmlai --config search.yaml
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from _common import config_from_args, parse_config_args, run_guarded
from core.config import ConfigError
from distributed.debug import debug_search
from distributed.settings import LAPTOP_SEARCH, SEARCHERS, SearchSettings

# The laptop default (distributed.settings.LAPTOP_SEARCH): 64 trials finish in minutes on 2 cores.
SEARCH_DEFAULTS = {**LAPTOP_SEARCH, "train.device": "auto", "train.loader_workers": 0}
DEBUG = {
    "data.synth_count": 12,
    "data.window": 40,
    "data.overlap": 0,
    "model.preset": "tiny",
    "train.early_stopping": 0,
    "train.batch_size": 16,
}


def _refit_top(text: str) -> int | None:
    """--refit-top: ``auto`` (None) or a count >= 0."""
    if text == "auto":
        return None
    try:
        k = int(text)
    except ValueError:
        k = -1
    if k < 0:
        raise argparse.ArgumentTypeError(f"expected auto or a count >= 0, got {text!r}")
    return k


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--trials", type=int, default=64, help="trials to sample (default 64)")
    p.add_argument(
        "--time-budget",
        type=float,
        metavar="MINUTES",
        help="wall time for the whole search, refit included: stage 1 stops sampling (before --trials) once "
        "the refit, estimated from stage 1's epoch times, would no longer fit (default: no budget)",
    )
    p.add_argument(
        "--space",
        default="full",
        help="full (architecture, loss weights, training options) | architecture | architecture_large | "
        "loss_weights | training | PATH.py | PATH.yaml (default full)",
    )
    p.add_argument("--epochs", type=int, default=None, help="most epochs per trial, ASHA's max_t (default 6)")
    p.add_argument("--grace-period", type=int, default=1, help="epochs before ASHA may stop a trial")
    p.add_argument("--reduction-factor", type=int, default=3)
    p.add_argument(
        "--searcher",
        choices=SEARCHERS,
        default=SearchSettings.searcher,
        help=f"tpe-mv: multivariate TPE with the constant liar for running trials; tpe: univariate; random "
        f"(default {SearchSettings.searcher})",
    )
    p.add_argument(
        "--startup-trials",
        type=int,
        default=SearchSettings.startup_trials,
        help=f"trials TPE samples at random before it models the results (default {SearchSettings.startup_trials})",
    )
    p.add_argument(
        "--workers-per-trial",
        type=int,
        default=0,
        help="0: train in the trial process (fast on CPUs); N: Ray Train with N DDP workers",
    )
    p.add_argument("--cpus-per-worker", type=float, default=1.0)
    p.add_argument("--gpus-per-worker", type=float, default=0.0)
    p.add_argument("--max-concurrent", type=int, help="default: what the cluster holds / what a trial needs")
    p.add_argument(
        "--storage", help="absolute path or URI (s3://...) for results and the data cache (default ~/ray_results)"
    )
    p.add_argument(
        "--shared-storage", action="store_true", help="the --storage path is a shared file system mounted on every node"
    )
    p.add_argument("--name", help="experiment name (default xmlai-<space>-<time>)")
    p.add_argument("--resume", action="store_true", help="continue the experiment --name (default: the latest)")
    p.add_argument("--address", help="Ray cluster to join (auto); default $RAY_ADDRESS, else a local Ray")
    p.add_argument("--num-cpus", type=int, help="CPUs of the local Ray (default: all)")
    p.add_argument("--data", metavar="DIR", help="folder of exports; default the built-in corpus")
    p.add_argument(
        "--data-engine",
        choices=["auto", "ray", "local"],
        default="auto",
        help="preparation engine (auto: Ray Data on a multi-node cluster, else local)",
    )
    p.add_argument(
        "--max-failures",
        type=int,
        default=SearchSettings.max_failures,
        help="retries of a failed trial (lost node, killed worker), each from its last checkpoint "
        f"(default {SearchSettings.max_failures}); drills: XMLAI_FAULT, see core/learn/faults.py",
    )
    p.add_argument(
        "--refit-top",
        type=_refit_top,
        default=None,
        metavar="K|auto",
        help="stage 2: retrain the K best configurations at the full budget beside the default config "
        "and export the better (default auto: as many as run at once beside the default config, 1-3, "
        "so 1 on a 2-core laptop; 0 = no refit, export stage 1's best checkpoint)",
    )
    p.add_argument(
        "--optuna-storage",
        metavar="URL",
        help="also record the study in this database (sqlite:////ABS/PATH/study.db) so that "
        "`optuna-dashboard URL` can watch the search live",
    )
    p.add_argument("--seed", type=int, default=0, help="Optuna TPE seed")
    p.add_argument("--top", type=int, default=5, help="rows of the final table")
    p.add_argument("--verbose", action="store_true", help="trial logs and per-epoch lines")
    p.add_argument(
        "--no-report",
        action="store_true",
        help="skip the HTML report at the end (about 4 s of plotting; `python scripts/report.py EXPERIMENT` "
        "writes it later)",
    )
    p.add_argument(
        "--debug",
        action="store_true",
        help="2 trials of 2 epochs in this process (no Ray) on a tiny corpus; full stack traces",
    )
    return parse_config_args(p, argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        return run_guarded(lambda: run(args), (ConfigError, FileNotFoundError, ValueError, RuntimeError), args.debug)
    except KeyboardInterrupt:
        print(
            "\ninterrupted: continue with  python scripts/tune.py --resume"
            + (f" --name {args.name}" if args.name else ""),
            file=sys.stderr,
        )
        return 130


def run(args: argparse.Namespace) -> int:
    extra = dict(DEBUG if args.debug else SEARCH_DEFAULTS)
    data = {}
    if args.data:
        data["data.data_dir"] = str(Path(args.data).resolve())
    if args.config:  # the user's file decides; only the debug shrink still applies
        extra = {k: v for k, v in extra.items() if args.debug}
    cfg = config_from_args(args, {**extra, **data})
    # the refit's full budget: what `python scripts/train.py` trains with the same --config/--data/flags
    full = config_from_args(args, data)
    s = SearchSettings(
        trials=2 if args.debug and args.trials == 64 else args.trials,
        space=args.space,
        epochs=args.epochs or (2 if args.debug else SearchSettings.epochs),
        grace_period=args.grace_period,
        reduction_factor=args.reduction_factor,
        searcher=args.searcher,
        startup_trials=args.startup_trials,
        workers_per_trial=args.workers_per_trial,
        cpus_per_worker=args.cpus_per_worker,
        gpus_per_worker=args.gpus_per_worker,
        storage=args.storage,
        name=args.name,
        resume=args.resume,
        seed=args.seed,
        max_concurrent=args.max_concurrent,
        address=args.address,
        num_cpus=args.num_cpus,
        data_engine=args.data_engine,
        shared_storage=args.shared_storage,
        max_failures=args.max_failures,
        top=args.top,
        verbose=args.verbose or args.debug,
        optuna_storage=args.optuna_storage,
        time_budget_min=args.time_budget,
    )
    if args.debug:
        debug_search(cfg, s)
    else:
        from distributed.refit import search_and_refit  # here: importing Ray takes seconds, and --debug runs without it

        search_and_refit(cfg, full, s, refit_top=args.refit_top, report=not args.no_report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
