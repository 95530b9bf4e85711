"""What a search prints and returns: the live progress line, one row per trial, the final table."""

from __future__ import annotations

import math
import re
import sys
import time
from pathlib import Path
from typing import Any

from distributed.settings import BASELINE, OBJECTIVE, REPLAYED, SearchResult, SearchSettings


def make_progress(total: int, max_t: int, log, what: str = "trial", tty: bool | None = None):
    """A Tune callback for the search's progress, suited to where it goes.

    On a terminal (``log`` is ``print`` and stdout is a TTY): one tqdm bar of finished trials with the running
    count and the best so far, and a line per error. Anywhere else (a log file, a test's list): one line per
    trial event (start, each epoch's result, stop, finish, error) and no carriage returns.
    """
    from ray import tune  # here, not at the top: the table and rows serve the Ray-free debug search too

    if tty is None:
        tty = log is print and _is_terminal(sys.stdout)
    early_word = "stopped early by ASHA" if what == "trial" else "stopped early"

    class Progress(tune.Callback):
        def __init__(self):
            self.t0, self.bar, self.best, self.who = time.monotonic(), None, math.inf, ""

        def __getstate__(self):  # pickled into the experiment state; the clock and the bar restart on resume
            return {}

        def __setstate__(self, state):
            self.__init__()

        def _say(self, line: str) -> None:
            line = f"[{time.monotonic() - self.t0:6.0f}s] {line}"
            if self.bar is not None:
                self.bar.write(line)
            else:
                log(line)

        def _restored_best(self, trials) -> None:
            # after a resume the callback is new: the restored trials' results still count
            for t in trials:
                v = (t.metric_analysis.get(OBJECTIVE) or {}).get("min", math.inf)
                if v < self.best:
                    self.best, self.who = v, t.trial_id

        def _status(self, trials, ending=None) -> str:
            self._restored_best(trials)
            # ending: the trial being completed (Tune calls back before it marks it TERMINATED)
            running = sum(t.status == "RUNNING" and t is not ending for t in trials)
            done = [t for t in trials if t.status == "TERMINATED" or t is ending]
            early = sum(1 for t in done if (t.last_result or {}).get("epoch", max_t) < max_t)
            errors = sum(t.status == "ERROR" for t in trials)
            best_s = (
                f"best {OBJECTIVE} {self.best:.4f} ({what} {self.who}; baseline {BASELINE:.1f})"
                if self.who
                else "no result yet"
            )
            return (
                f"{what}s {len(done) + errors}/{total} done: {running} running, {len(done)} finished "
                f"({early} {early_word}), {errors} errors; {best_s}"
            )

        def _update_bar(self, trials) -> None:
            if not tty:
                return
            if self.bar is None:
                from tqdm.auto import tqdm

                self.bar = tqdm(total=total, desc=f"{what}s", unit=what, dynamic_ncols=True)
            done = sum(t.status in ("TERMINATED", "ERROR") for t in trials)
            self.bar.update(done - self.bar.n)
            running = sum(t.status == "RUNNING" for t in trials)
            best = f"best {self.best:.4f}" if self.who else "no result yet"
            self.bar.set_postfix_str(f"{running} running, {best}")

        def on_trial_start(self, iteration, trials, trial, **info):
            if not tty:
                cfg = trial.config or {}
                label = f" (refit of {cfg['refit_of']})" if "refit_of" in cfg else ""
                self._say(f"{what} {trial.trial_id}{label} started: {describe(cfg, 200) or 'the config as it is'}")
            self._update_bar(trials)

        def on_trial_result(self, iteration, trials, trial, result, **info):
            v = result.get(OBJECTIVE)
            if isinstance(v, (int, float)) and v < self.best:
                self.best, self.who = float(v), trial.trial_id
            if not tty and isinstance(v, (int, float)) and not result.get(REPLAYED):
                self._say(
                    f"{what} {trial.trial_id} epoch {result.get('epoch', '?')}/{max_t}: {OBJECTIVE} {v:.4f} "
                    f"(best so far {self.best:.4f})"
                )
            self._update_bar(trials)

        def on_trial_complete(self, iteration, trials, trial, **info):
            epoch = (trial.last_result or {}).get("epoch", max_t)
            if not tty:
                how = f"{early_word} after epoch {epoch}" if epoch < max_t else f"finished {epoch} epochs"
                self._say(f"{what} {trial.trial_id} {how}; {self._status(trials, ending=trial)}")
            self._update_bar(trials)

        def on_trial_error(self, iteration, trials, trial, **info):
            self._say(f"{what} {trial.trial_id} failed: see {trial.local_path}/error.txt")
            self._update_bar(trials)

        def on_experiment_end(self, trials, **info):
            self._update_bar(trials)
            if self.bar is not None:
                self.bar.close()
                self.bar = None
            self._say(self._status(trials))

    return Progress()


def _is_terminal(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def describe(params: dict[str, Any], width: int = 70) -> str:
    """The sampled parameters in one short line, architecture first."""
    parts = []
    order = ("model.d_model", "model.n_layers", "model.n_heads", "model.d_ff", "model.attention", "train.lr")
    keys = sorted((k for k in params if "." in k), key=lambda k: (order.index(k) if k in order else len(order), k))
    for k in keys:
        v = params[k]
        short = f"w_{k.split('.')[-1]}" if k.startswith("loss.weights.") else k.split(".")[-1]
        parts.append(f"{short}={v:.3g}" if isinstance(v, float) else f"{short}={v}")
    text = " ".join(parts)
    return text if len(text) <= width else text[: width - 3] + "..."


def error_reason(err: BaseException | None, width: int = 160) -> str:
    """One line saying why a trial failed: the innermost ``SomeError: message`` of Ray's wrapped traceback."""
    if err is None:
        return ""
    err = getattr(err, "cause", None) or err  # RayTaskError: the trial's own exception
    text = f"{type(err).__name__}: {err}"
    found = re.findall(r"^\s*(?:[\w.]+\.)?(\w+(?:Error|Exception|Exit)): (.+)$", text, flags=re.MULTILINE)
    if found:
        kind, msg = found[-1]
        line = f"{kind}: {msg.strip()}"
    else:
        line = next((x.strip() for x in text.splitlines() if x.strip()), type(err).__name__)
    return line if len(line) <= width else line[: width - 3] + "..."


def summarize_grid(grid, exp_path: str, s: SearchSettings) -> SearchResult:
    """One row per trial (best epoch's metrics), best first, errors (with their reason) last; counts and
    summed training time."""
    res = SearchResult(experiment_path=exp_path)
    counts = {"finished": 0, "stopped_early": 0, "errors": 0, "interrupted": 0}
    for r in grid:
        df = r.metrics_dataframe
        if r.error is not None:
            counts["errors"] += 1
        if df is None or OBJECTIVE not in df or df[OBJECTIVE].isna().all():
            if r.error is not None:  # failed before its first epoch: still a row, with the reason
                res.rows.append(
                    {
                        "trial_id": Path(r.path).name.removeprefix("trial_"),
                        "status": "error",
                        "epochs": 0,
                        "best_epoch": 0,
                        OBJECTIVE: math.nan,
                        "val_objective_ctx": math.nan,
                        "noise_floor": math.nan,
                        "params": dict(r.config or {}),
                        "error": error_reason(r.error),
                    }
                )
            continue
        if REPLAYED in df:  # a finished trial's last result, reported again on --resume: not an epoch
            df = df[~df[REPLAYED].eq(True)]
        last_epoch = int(df["epoch"].max())
        # a trial has finished when its last result says done (all epochs, or stopped by ASHA or a stopper); one
        # that Ctrl-C stopped mid-run has results too, and is restored by --resume
        if r.error is not None:
            status = "error"
        elif not (r.metrics or {}).get("done"):
            status = "interrupted"
            counts["interrupted"] += 1
        else:
            status = "stopped" if last_epoch < s.epochs else "done"
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
                "status": status,
                "epochs": last_epoch,
                "best_epoch": int(best["epoch"]),
                OBJECTIVE: float(best[OBJECTIVE]),
                "val_objective_ctx": float(best.get("val_objective_ctx", math.nan)),
                "noise_floor": float(best.get("noise_floor", math.nan)),
                "params": dict(r.config or {}),
                "error": error_reason(r.error),
            }
        )
    res.rows.sort(key=lambda row: (not math.isfinite(row[OBJECTIVE]), row[OBJECTIVE]))
    res.reports.sort(key=lambda row: row["timestamp"])
    res.counts = counts
    return res


def format_table(res: SearchResult, top: int = 5) -> str:
    """The best trials next to the constant baseline (and the noise floor on the built-in corpus)."""
    c = res.counts
    lines = [
        f"\n{len(res.rows)} trials with results: {c.get('finished', 0)} finished "
        f"({c.get('stopped_early', 0)} stopped early by ASHA), {c.get('errors', 0)} errors"
        + (f", {c['interrupted']} interrupted" if c.get("interrupted") else "")
        + "; "
        f"{res.epochs} epochs trained in total",
        f"{'rank':>4}  {'trial':<10} {OBJECTIVE:>13} {'w/ context':>10} {'epoch':>6} {'status':<8} params",
        f"{'-':>4}  {'baseline':<10} {BASELINE:>13.4f} {BASELINE:>10.4f} {'-':>6} {'':<8} constant: train mean "
        "per target, base rates",
    ]
    floor = next((r["noise_floor"] for r in res.rows if math.isfinite(r["noise_floor"])), math.nan)
    if math.isfinite(floor):
        lines.append(
            f"{'-':>4}  {'noise':<10} {floor:>13.4f} {'':>10} {'-':>6} {'':<8} "
            "best achievable (built-in corpus; interpolation aside)"
        )
    for i, r in enumerate(res.rows[:top], 1):
        lines.append(
            f"{i:>4}  {r['trial_id']:<10} {r[OBJECTIVE]:>13.4f} {r['val_objective_ctx']:>10.4f} "
            f"{r['best_epoch']:>3}/{r['epochs']:<2} {r['status']:<8} {describe(r['params'])}"
        )
    failed = [r for r in res.rows if r.get("error")]
    if failed:
        lines.append(f"{len(failed)} trial(s) ended as an error (the search went on):")
        lines += [f"  trial {r['trial_id']} after {r['epochs']} epoch(s): {r['error']}" for r in failed]
    lines.append(f"experiment: {res.experiment_path}  ({res.wall_s:.0f}s wall, {res.train_s:.0f}s of training)")
    lines.append(f"export the best: python scripts/export_best.py {res.experiment_path}")
    return "\n".join(lines)
