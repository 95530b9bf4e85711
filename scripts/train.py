"""Single-node training: parse -> frames -> windows -> MultiTrackTransformer, no Ray in the way.

python scripts/train.py                      # built-in corpus, default config
python scripts/train.py --data DIR           # a folder of your own exports
python scripts/train.py --config my.yaml --train.lr 3e-4 --model.preset large
python scripts/train.py --resume runs/NAME   # continue where it stopped
python scripts/train.py --data DIR --init runs/NAME   # fine-tune another run's weights on your exports
python scripts/train.py --debug              # tiny data, model and epochs; full tracebacks
python scripts/train.py --data DIR --average-with loss.programme_floor=0.1   # two models, one averaged export

--average-with KEY=VALUE ... trains a second model on the same data and split, this run's config with those
overrides, in RUN/average_with, then exports the mean of the two models' outputs as RUN/mean_model, scored beside
each of them on the validation files (scripts/export_best.py RUN_A RUN_B --out DIR does the same for any two
runs). On real exports the default model and one trained with loss.programme_floor=0.1 err in opposite
directions; their mean was better than either on average over four splits of the real corpora (README).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import yaml

from _common import (
    ROOT,
    config_from_args,
    parse_config_args,
    print_file_errors,
    run_guarded,
)
from core.config import ConfigError, apply_overrides
from core.data.preprocess import prepare
from core.learn.assess import verdict
from core.learn.calibrate import calibrate_checkpoint
from core.learn.train_loop import LocalHooks, train

DEBUG = {
    "data.synth_count": 16,
    "data.window": 50,
    "data.overlap": 10,
    "model.preset": "tiny",
    "model.dropout": 0.0,
    "train.epochs": 2,
    "train.batch_size": 16,
    "data.workers": 0,
    "train.loader_workers": 0,
    "train.early_stopping": 0,
}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", metavar="DIR", help="folder of exports (xmeml); default: the built-in corpus")
    p.add_argument("--out", metavar="DIR", help="run folder (default: runs/<time>)")
    p.add_argument("--resume", metavar="PATH", help="run folder or checkpoint folder to continue from")
    p.add_argument(
        "--init", metavar="PATH", help="start from the weights of a run or checkpoint folder (train.init_from)"
    )
    p.add_argument("--device", choices=["cpu", "cuda", "auto"], help="default: train.device (auto)")
    p.add_argument("--epochs", type=int, help="shortcut for --train.epochs")
    p.add_argument("--preset", help="shortcut for --model.preset (tiny, small, base, large)")
    p.add_argument("--debug", action="store_true", help="shrink data, model and epochs; full stack traces")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument(
        "--average-with",
        nargs="+",
        metavar="KEY=VALUE",
        help="also train this config with these overrides (in RUN/average_with) and export the two models' mean "
        "as RUN/mean_model, e.g. loss.programme_floor=0.1",
    )
    args = parse_config_args(p, argv)
    try:
        args.average_overrides = _overrides(args.average_with or [])
    except ValueError as e:
        p.error(f"--average-with: {e}")
    return args


def _overrides(items: list[str]) -> dict:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or "." not in key:
            raise ValueError(f"{item!r} is not SECTION.KEY=VALUE (for example loss.programme_floor=0.1)")
        out[key] = yaml.safe_load(value)
    return out


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        return run_guarded(lambda: run(args), (ConfigError, FileNotFoundError), args.debug)
    except Exception as e:  # a clear one-line message; --debug shows the whole traceback
        if args.debug:
            raise
        print(f"error: {type(e).__name__}: {e} (run with --debug for the traceback)", file=sys.stderr)
        return 1


def run(args: argparse.Namespace) -> int:
    extra = dict(DEBUG) if args.debug else {}
    if args.data:
        extra["data.data_dir"] = str(Path(args.data).resolve())
    if args.device:
        extra["train.device"] = args.device
    if args.epochs:
        extra["train.epochs"] = args.epochs
    if args.preset:
        extra["model.preset"] = args.preset
    if args.init:
        extra["train.init_from"] = str(Path(args.init).resolve())
    resume = Path(args.resume) if args.resume else None
    if resume and not args.config and (resume / "config.yaml").is_file():
        args.config = str(resume / "config.yaml")  # continue with the run's own resolved config
    cfg = config_from_args(args, extra)
    # the second model's config is checked before anything trains: a typo must not cost the first training
    cfg2 = apply_overrides(cfg, args.average_overrides) if args.average_overrides else None
    out = (
        Path(args.out)
        if args.out
        else (
            resume
            if resume and resume.is_dir() and (resume / "checkpoints").is_dir()
            else ROOT / "runs" / time.strftime("%Y%m%d-%H%M%S")
        )
    )
    out.mkdir(parents=True, exist_ok=True)
    cfg.save(out / "config.yaml")
    print(f"run folder: {out}\nresolved config:\n" + "".join(f"  {line}\n" for line in cfg.to_yaml().splitlines()))

    t0 = time.perf_counter()
    data = prepare(cfg.data)
    print(
        f"data: {len(data.files)} files, {data.meta.get('n_timelines', '?')} timelines -> "
        f"{len(data.train['features'])} train / {len(data.val['features'])} val windows "
        f"in {time.perf_counter() - t0:.1f}s"
    )
    print_file_errors(data.errors)
    _train_one(cfg, data, out, resume, args)
    if cfg2 is not None:
        second = out / "average_with"
        second.mkdir(parents=True, exist_ok=True)
        cfg2.save(second / "config.yaml")
        changed = ", ".join(f"{k}={v}" for k, v in args.average_overrides.items())
        print(f"\nthe second model, to average with: {second} ({changed})")
        _train_one(cfg2, data, second, second if resume and (second / "checkpoints").is_dir() else None, args)
        print()
        from distributed.export import export_average  # here: a plain run needs none of the export's imports

        export_average([str(out), str(second)], out / "mean_model")
    return 0


def _train_one(cfg, data, out: Path, resume: Path | None, args: argparse.Namespace) -> None:
    hooks = LocalHooks(out, resume=resume)
    res = train(cfg, data, hooks, progress=not args.no_progress)
    b = res.best
    print(
        f"\nbest epoch {b.get('epoch')}: val_objective {b.get('val_objective', float('nan')):.4f} "
        f"(constant baseline 1.0"
        + (f", noise floor {res.noise_floor['objective']:.3f}" if res.noise_floor else "")
        + f"), with half the clips as context {b.get('val_objective_ctx', float('nan')):.4f}"
    )
    for line in verdict(b, advise=cfg.loss.programme_floor == 0):
        print(line)
    best_dir = out / "checkpoints" / "best"
    if cfg.train.calibrate and len(data.val["features"]) and best_dir.is_dir():
        fits = calibrate_checkpoint(best_dir, data.val, context=cfg.train.eval_context, seed=cfg.train.seed)
        print(
            "stacked the best checkpoint's heads with the train constant and the same-track rule, fitted on the "
            "validation files (a_none, a_given, b_given): "
            + ", ".join(f"{h} {v['a_none']:.2f}/{v['a_given']:.2f}/{v['b_given']:.2f}" for h, v in fits.items())
        )
    print(f"checkpoints: {best_dir} and {out / 'checkpoints' / 'last'}")


if __name__ == "__main__":
    sys.exit(main())
