"""What a search prints and returns: the live progress line, one row per trial, the final table."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

from distributed.settings import BASELINE, OBJECTIVE, SearchResult, SearchSettings


def make_progress(total: int, max_t: int, log):
    """A Tune callback that logs one status line whenever the counts or the best change."""
    from ray import tune  # here, not at the top: the table and rows serve the Ray-free debug search too

    class Progress(tune.Callback):
        """One status line when something changes (at most every few seconds): running, finished, stopped, best."""

        def __init__(self):
            self.t0, self.last_line, self.last_time = time.monotonic(), "", 0.0

        def __getstate__(self):  # pickled into the experiment state; the clock restarts on resume
            return {}

        def __setstate__(self, state):
            self.__init__()

        def _status(self, trials) -> str:
            running = sum(t.status == "RUNNING" for t in trials)
            done = [t for t in trials if t.status == "TERMINATED"]
            early = sum(1 for t in done if (t.last_result or {}).get("epoch", max_t) < max_t)
            errors = sum(t.status == "ERROR" for t in trials)
            best, who = math.inf, ""
            for t in trials:
                v = t.metric_analysis.get(OBJECTIVE, {}).get("min", math.inf)
                if v < best:
                    best, who = v, t.trial_id
            best_s = f"best {OBJECTIVE} {best:.4f} (trial {who}; baseline {BASELINE:.1f})" if who else "no result yet"
            return (
                f"trials {len(done) + errors}/{total} done: {running} running, {len(done)} finished "
                f"({early} stopped early by ASHA), {errors} errors; {best_s}"
            )

        def on_step_end(self, iteration, trials, **info):
            line = self._status(trials)
            now = time.monotonic()
            if line != self.last_line and now - self.last_time >= 5:
                log(f"[{now - self.t0:6.0f}s] {line}")
                self.last_line, self.last_time = line, now

        def on_trial_error(self, iteration, trials, trial, **info):
            log(f"trial {trial.trial_id} failed: see {trial.local_path}/error.txt")

        def on_experiment_end(self, trials, **info):
            log(f"[{time.monotonic() - self.t0:6.0f}s] {self._status(trials)}")

    return Progress()


def describe(params: dict[str, Any], width: int = 70) -> str:
    """The sampled parameters in one short line, architecture first."""
    parts = []
    order = ("model.d_model", "model.n_layers", "model.n_heads", "model.d_ff", "model.attention", "train.lr")
    keys = sorted((k for k in params if "." in k), key=lambda k: (order.index(k) if k in order else len(order), k))
    for k in keys:
        v = params[k]
        short = k.split(".")[-1]
        parts.append(f"{short}={v:.3g}" if isinstance(v, float) else f"{short}={v}")
    text = " ".join(parts)
    return text if len(text) <= width else text[: width - 3] + "..."


def summarize_grid(grid, exp_path: str, s: SearchSettings) -> SearchResult:
    """One row per trial (best epoch's metrics), best first; counts and summed training time."""
    res = SearchResult(experiment_path=exp_path)
    counts = {"finished": 0, "stopped_early": 0, "errors": 0}
    for r in grid:
        df = r.metrics_dataframe
        if r.error is not None:
            counts["errors"] += 1
        if df is None or OBJECTIVE not in df or df[OBJECTIVE].isna().all():
            continue
        last_epoch = int(df["epoch"].max())
        if r.error is None:
            counts["finished"] += 1
            counts["stopped_early"] += last_epoch < s.epochs
        res.train_s += float(df["epoch_time_s"].sum()) if "epoch_time_s" in df else 0.0
        res.epochs += int(len(df))
        best = df.loc[df[OBJECTIVE].idxmin()]
        trial_id = str(df["trial_id"].iloc[-1]) if "trial_id" in df else Path(r.path).name
        for _, row in df.iterrows():
            res.reports.append(
                {
                    "trial_id": trial_id,
                    "epoch": int(row["epoch"]),
                    OBJECTIVE: float(row[OBJECTIVE]),
                    "timestamp": float(row.get("timestamp", 0)),
                    "time_total_s": float(row.get("time_total_s", 0)),
                }
            )
        res.rows.append(
            {
                "trial_id": trial_id,
                "status": "error" if r.error is not None else ("stopped" if last_epoch < s.epochs else "done"),
                "epochs": last_epoch,
                "best_epoch": int(best["epoch"]),
                OBJECTIVE: float(best[OBJECTIVE]),
                "val_objective_ctx": float(best.get("val_objective_ctx", math.nan)),
                "noise_floor": float(best.get("noise_floor", math.nan)),
                "params": dict(r.config or {}),
            }
        )
    res.rows.sort(key=lambda row: row[OBJECTIVE])
    res.reports.sort(key=lambda row: row["timestamp"])
    res.counts = counts
    return res


def format_table(res: SearchResult, top: int = 5) -> str:
    """The best trials next to the constant baseline (and the noise floor on the built-in corpus)."""
    c = res.counts
    lines = [
        f"\n{len(res.rows)} trials with results: {c.get('finished', 0)} finished "
        f"({c.get('stopped_early', 0)} stopped early by ASHA), {c.get('errors', 0)} errors; "
        f"{res.epochs} epochs trained in total",
        f"{'rank':>4}  {'trial':<10} {OBJECTIVE:>13} {'w/ context':>10} {'epoch':>6} {'status':<8} params",
        f"{'-':>4}  {'baseline':<10} {BASELINE:>13.4f} {BASELINE:>10.4f} {'-':>6} {'':<8} constant: train mean "
        "per target, base rates",
    ]
    floor = next((r["noise_floor"] for r in res.rows if math.isfinite(r["noise_floor"])), math.nan)
    if math.isfinite(floor):
        lines.append(
            f"{'-':>4}  {'noise':<10} {floor:>13.4f} {'':>10} {'-':>6} {'':<8} best achievable (built-in corpus)"
        )
    for i, r in enumerate(res.rows[:top], 1):
        lines.append(
            f"{i:>4}  {r['trial_id']:<10} {r[OBJECTIVE]:>13.4f} {r['val_objective_ctx']:>10.4f} "
            f"{r['best_epoch']:>3}/{r['epochs']:<2} {r['status']:<8} {describe(r['params'])}"
        )
    lines.append(f"experiment: {res.experiment_path}  ({res.wall_s:.0f}s wall, {res.train_s:.0f}s of training)")
    lines.append(f"export the best: python scripts/export_best.py {res.experiment_path}")
    return "\n".join(lines)
