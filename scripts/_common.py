"""Helpers shared by the thin entry points: import path, config flags, error reporting."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # runnable from a checkout without `pip install -e .`
    sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from core.config import _SECTIONS, Config, apply_overrides, config_from_dict, load_config  # noqa: E402

# Native unit of each head, as the scripts print them ("frame": a share of the frame, 0 = centre)
HEAD_UNITS = {
    "scale": "%",
    "rotation": "deg",
    "center_x": "frame",
    "center_y": "frame",
    "opacity": "%",
    "level_db": "dB",
    "pan": "",
}


def add_config_flags(p: argparse.ArgumentParser) -> None:
    """``--config FILE`` plus one ``--SECTION.KEY VALUE`` flag for every config field (YAML-parsed values)."""
    p.add_argument("--config", metavar="FILE.yaml", help="config file; flags below override it")
    g = p.add_argument_group("every hyperparameter (values are parsed as YAML: 64, 1e-3, true, [scale, pan])")
    for section, cls in _SECTIONS.items():
        for f in fields(cls):
            g.add_argument(
                f"--{section}.{f.name}",
                dest=f"cfg__{section}__{f.name}",
                metavar="V",
                default=None,
                help=argparse.SUPPRESS if f.name.startswith("_") else None,
            )


def parse_config_args(p: argparse.ArgumentParser, argv) -> argparse.Namespace:
    """The config-driven tools' arguments (``add_config_flags`` added), with line-buffered output from here on."""
    add_config_flags(p)
    args = p.parse_args(argv)
    line_buffered()
    return args


def config_from_args(args: argparse.Namespace, extra: dict | None = None) -> Config:
    cfg = load_config(args.config) if args.config else config_from_dict({})
    overrides = dict(extra or {})
    for k, v in vars(args).items():
        if k.startswith("cfg__") and v is not None:
            _, section, key = k.split("__")
            overrides[f"{section}.{key}"] = yaml.safe_load(v)
    return apply_overrides(cfg, overrides) if overrides else cfg


def run_guarded(work: Callable[[], int], errors: tuple[type[BaseException], ...], debug: bool = False) -> int:
    """Run an entry point's work; one of the expected ``errors`` is one line on stderr and exit code 2
    (``debug``: raised, with its traceback)."""
    try:
        return work()
    except errors as e:
        if debug:
            raise
        print(f"error: {e}", file=sys.stderr)
        return 2


def experiment_args(
    argv, doc: str, out_help: str, what: str = "experiment folder (or bucket URI) written by scripts/tune.py"
) -> argparse.Namespace:
    """``EXPERIMENT [--out DIR]``: the arguments of the tools that read a finished (or running) search."""
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("experiment", help=what)
    p.add_argument("--out", help=out_help)
    return p.parse_args(argv)


def line_buffered() -> None:
    """Progress lines reach a log file as they happen (Python block-buffers stdout when it is not a terminal)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(line_buffering=True)
        except (AttributeError, ValueError):  # replaced streams (pytest's capture)
            pass


def print_file_errors(errors, limit: int = 50, out=sys.stderr) -> None:
    if not errors:
        return
    print(f"{len(errors)} file(s) could not be used (the rest were processed):", file=out)
    for name, reason in list(errors)[:limit]:
        print(f"  {name}: {reason}", file=out)
    if len(errors) > limit:
        print(f"  ... and {len(errors) - limit} more", file=out)
