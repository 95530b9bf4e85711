"""An experiment's report: one HTML page with PNG plots (matplotlib, Agg), written beside the experiment.

Built from the experiment's files alone (Tune's ``result.json``/``params.json`` per trial, ``stage1.json``,
``refit.json``, the exported ``best_model``), so it imports no Ray and can be rebuilt at any time
(``python scripts/report.py EXPERIMENT``). Plots:

- ``history.png``: every stage-1 trial's best val_objective in start order, and the best so far;
- ``curves.png``: learning curves of every trial, ASHA's stops marked; the refits beside them;
- ``importance.png``: parameter importances (Optuna's fANOVA evaluator on a study rebuilt from the trials
  with ``optuna.trial.create_trial`` + ``study.add_trial``);
- ``heads.png``: per-head loss ratios of the exported model (and the default config's refit) against the
  constant baseline (1.0);
- ``timeline_<kind>.png``: predicted against true curves on one validation timeline per track kind, from
  the exported model (``load_exported`` + ``Predictor``), structure only (the timeline's own keys removed).
"""

from __future__ import annotations

import copy
import html
import json
import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, never a window
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import optuna  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from distributed.settings import BASELINE, OBJECTIVE, STATE_FILE  # noqa: E402
from distributed.storage import is_uri, json_lines, local_experiment, upload_dir  # noqa: E402

REPORT_DIR = "report"
KIND_TARGETS = {"video": ("scale", "opacity", "rotation", "center_x", "center_y"), "audio": ("level_db", "pan")}


# ---------------------------------------------------------------------------------------------- reading


def read_trials(folder: Path) -> list[dict[str, Any]]:
    """Every ``trial_*`` folder under ``folder``: its id, config and reports (one dict per epoch), in start order."""
    trials = []
    for d in sorted(folder.glob("trial_*")):
        results = d / "result.json"
        if not results.is_file():
            continue
        reports = [
            r for r in json_lines(results) if isinstance(r.get(OBJECTIVE), (int, float)) and math.isfinite(r[OBJECTIVE])
        ]
        params_file = d / "params.json"
        params = json.loads(params_file.read_text()) if params_file.is_file() else {}
        if reports:
            start = reports[0].get("timestamp", 0) - reports[0].get("time_this_iter_s", 0)
            trials.append(
                {"trial_id": d.name.removeprefix("trial_"), "params": params, "reports": reports, "start": start}
            )
    trials.sort(key=lambda t: t["start"])
    return trials


def _best(trial: dict[str, Any]) -> float:
    return min(r[OBJECTIVE] for r in trial["reports"])


def _last_epoch(trial: dict[str, Any]) -> int:
    return int(max(r.get("epoch", 0) for r in trial["reports"]))


def _json(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path.is_file() else None


# ---------------------------------------------------------------------------------------------- plots


def plot_history(trials: list[dict[str, Any]], out: Path) -> int:
    """Each trial's best val_objective in start order, and the best so far. Returns the points drawn."""
    fig, ax = plt.subplots(figsize=(8, 4.2))
    y = [_best(t) for t in trials]
    x = np.arange(1, len(y) + 1)
    ax.scatter(x, y, s=16, color="tab:blue", alpha=0.7, label="trial's best")
    if y:
        ax.step(x, np.minimum.accumulate(y), where="post", color="tab:red", label="best so far")
    ax.axhline(BASELINE, color="grey", ls="--", lw=1, label="constant baseline")
    ax.set(xlabel="trial (start order)", ylabel=OBJECTIVE, title="Optimisation history (stage 1)")
    _clip_ylim(ax, y)
    ax.legend(loc="upper right", fontsize=8)
    _save(fig, out)
    return len(y)


def plot_curves(trials: list[dict[str, Any]], max_t: int, refits: list[dict[str, Any]], out: Path) -> int:
    """Learning curves of every stage-1 trial (an x where ASHA stopped one) and of the refits."""
    n = 2 if refits else 1
    fig, axes = plt.subplots(1, n, figsize=(6.5 * n, 4.2), squeeze=False)
    ax = axes[0][0]
    drawn, stopped = 0, 0
    values = []
    for t in trials:
        e = [r["epoch"] for r in t["reports"]]
        v = [r[OBJECTIVE] for r in t["reports"]]
        values += v
        ax.plot(e, v, lw=0.8, alpha=0.55)
        drawn += len(e)
        if e[-1] < max_t:
            stopped += 1
            ax.plot(e[-1], v[-1], "x", color="black", ms=5)
    ax.plot([], [], "x", color="black", label=f"stopped by ASHA ({stopped})")
    ax.axhline(BASELINE, color="grey", ls="--", lw=1, label="constant baseline")
    ax.set(xlabel="epoch", ylabel=OBJECTIVE, title=f"Stage 1: {len(trials)} trials (max {max_t} epochs)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    _clip_ylim(ax, values)
    ax.legend(fontsize=8)
    if refits:
        ax = axes[0][1]
        values = []
        for t in refits:
            e = [r["epoch"] for r in t["reports"]]
            v = [r[OBJECTIVE] for r in t["reports"]]
            values += v
            label = t["label"]
            ax.plot(
                e,
                v,
                marker="o",
                ms=3,
                lw=2.2 if label == "default" else 1.2,
                ls="--" if label == "default" else "-",
                label="default config" if label == "default" else f"refit of {label}",
            )
            drawn += len(e)
        ax.axhline(BASELINE, color="grey", ls="--", lw=1)
        ax.set(xlabel="epoch", ylabel=OBJECTIVE, title="Stage 2: refits at the full budget")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        _clip_ylim(ax, values)
        ax.legend(fontsize=8)
    _save(fig, out)
    return drawn


def importances(trials: list[dict[str, Any]], space_name: str | None) -> dict[str, float]:
    """fANOVA importances of the sampled parameters for each trial's best val_objective.

    The study is rebuilt from the trials: each trial's distributions come from running the search space on
    an enqueued trial with the trial's values (so log scales and choices are the space's own), then
    ``optuna.trial.create_trial`` + ``study.add_trial``. Without the space, distributions are inferred from the
    values seen."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = None
    if space_name:
        try:
            import search_spaces

            space = search_spaces.resolve(space_name)
        except Exception:  # a user's space file that is gone: infer instead
            space = None
    study = optuna.create_study(direction="minimize")
    inferred = _inferred_distributions(trials) if space is None else {}
    for t in trials:
        params = t["params"]
        if space is not None:
            scratch = optuna.create_study()
            scratch.enqueue_trial({k: v for k, v in params.items()}, skip_if_exists=False)
            probe = scratch.ask()
            space(probe)
            dists = dict(probe.distributions)
        else:
            dists = {k: d for k, d in inferred.items() if k in params}
        values = {k: params[k] for k in dists if k in params}
        dists = {k: dists[k] for k in values}
        try:
            study.add_trial(optuna.trial.create_trial(params=values, distributions=dists, value=_best(t)))
        except ValueError:
            continue  # a value outside the space as it is now (the space file changed): leave the trial out
    if len(study.trials) < 2:
        return {}
    try:
        return dict(
            optuna.importance.get_param_importances(
                study, evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0)
            )
        )
    except (RuntimeError, ValueError):
        return {}


def _inferred_distributions(trials: list[dict[str, Any]]) -> dict[str, Any]:
    seen: dict[str, list] = {}
    for t in trials:
        for k, v in t["params"].items():
            seen.setdefault(k, []).append(v)
    out = {}
    for k, vs in seen.items():
        if all(isinstance(v, float) for v in vs) and len(set(vs)) > 1:
            lo, hi = min(vs), max(vs)
            out[k] = optuna.distributions.FloatDistribution(lo, hi, log=lo > 0 and hi / lo > 20)
        elif all(isinstance(v, (str, int, float, bool)) or v is None for v in vs):
            out[k] = optuna.distributions.CategoricalDistribution(sorted(set(vs), key=str))
    return out


def plot_importance(imp: dict[str, float], out: Path) -> int:
    fig, ax = plt.subplots(figsize=(8, max(2.5, 0.32 * len(imp) + 1)))
    if imp:
        names = list(imp)[::-1]
        ax.barh(names, [imp[n] for n in names], color="tab:green")
        ax.set(xlabel="importance (fANOVA, sums to 1)", title="What decided val_objective (stage 1)")
    else:
        ax.text(0.5, 0.5, "too few finished trials for importances", ha="center", va="center")
        ax.set_axis_off()
    _save(fig, out)
    return len(imp)


def plot_heads(chosen: dict[str, Any], default: dict[str, Any] | None, out: Path) -> int:
    """Per-head loss ratios on the validation files against their best constant (per-kind means, key rates):
    the exported model structure only and with half the clips given, the same-track rule with half given
    (core.learn.rules), and, when refit, the default config's model. Older metrics without the data-constant
    ratios fall back to the ratios to the train constant."""
    vs_data = any(k.startswith("vs_data/ratio/") for k in chosen)
    prefix = "vs_data/ratio/" if vs_data else "ratio/"
    heads = [k[len(prefix) :] for k in chosen if k.startswith(prefix)]
    bars = [("exported model, structure only", chosen, prefix, "tab:blue")]
    if vs_data:
        bars += [
            ("exported model, half the clips given", chosen, "ctx_vs_data/ratio/", "tab:cyan"),
            ("same-track rule, half the clips given", chosen, "same_track/ctx_ratio/", "tab:green"),
        ]
    if default:
        bars.append(("default config, structure only", default, prefix, "tab:orange"))
    fig, ax = plt.subplots(figsize=(10, 4.2))
    x = np.arange(len(heads))
    width = 0.8 / len(bars)
    values = []
    for i, (label, metrics, pre, color) in enumerate(bars):
        v = [metrics.get(f"{pre}{h}", np.nan) for h in heads]
        v = [np.nan if x_ is None else x_ for x_ in v]
        values += v
        ax.bar(x - 0.4 + width * (i + 0.5), v, width, label=label, color=color)
    what = "the validation data's best constant" if vs_data else "the train constant"
    ax.axhline(BASELINE, color="grey", ls="--", lw=1, label=what)
    ax.set_xticks(x, heads, rotation=30)
    ax.set(ylabel=f"loss / {what}'s loss", title="Per-head ratios on the validation files (lower is better)")
    finite = [v for v in values if np.isfinite(v)] + [1.0]
    ax.set_ylim(0, max(1.3, min(3.0, max(finite) * 1.1)))
    ax.legend(fontsize=8)
    _save(fig, out)
    return len(heads)


def validation_timelines(cfg) -> list[tuple[str, Any]]:
    """(name, Timeline) of the data's validation files (the split the metrics are measured on), in name order."""
    from core.data.formats import read_file
    from core.data.preprocess import file_name, input_paths, split_of
    from core.data.timeline import TimelineError

    out = []
    for p in input_paths(cfg.data):
        name = file_name(p, cfg.data)
        if split_of(name, cfg.data.val_fraction, cfg.data.split_seed) != "val":
            continue
        try:
            out += [(name, tl) for tl in read_file(p)]
        except (TimelineError, OSError, ValueError):
            continue  # a bad file is reported by the search; here it is only not shown
        if len(out) >= 40:
            break
    return out


def plot_timelines(model_dir: Path, out_dir: Path) -> dict[str, tuple[str, int]]:
    """For each track kind: the validation track with the most keys, true curves against the model's
    prediction from structure alone. Returns kind -> (file name, points drawn)."""
    from core.config import REGRESSION_TARGETS
    from core.data.frames import timeline_to_frames
    from core.serve.export import load_exported

    predictor = load_exported(model_dir)
    cfg = predictor.cfg
    step = cfg.data.step_s
    picks: dict[str, tuple[int, str, Any, int]] = {}
    for name, tl in validation_timelines(cfg):
        for k, track in enumerate(tl.tracks):
            targets = [t for t in KIND_TARGETS.get(track.kind, ()) if t in cfg.model.targets]
            keys = sum(len(c.curves.get(t, ())) for c in track.clips for t in targets)
            if targets and keys > picks.get(track.kind, (0,))[0]:
                picks[track.kind] = (keys, name, tl, k)
    drawn = {}
    for kind, (_, name, tl, k) in sorted(picks.items()):
        bare = copy.deepcopy(tl)
        for track in bare.tracks:
            for clip in track.clips:
                clip.curves = {}  # structure only: what val_objective measures
        pred = predictor.predict_timeline(bare)
        frames = timeline_to_frames(tl, step)
        fr = frames[frames["track"] == k].sort_values("step")
        targets = [t for t in KIND_TARGETS[kind] if t in cfg.model.targets]
        varying = [t for t in targets if fr[t][fr[f"valid_{t}"].astype(bool)].nunique() > 1] or targets[:1]
        shown = varying[:3]
        fig, axes = plt.subplots(len(shown) + 1, 1, figsize=(10, 2.3 * (len(shown) + 1)), sharex=True)
        t_s = fr["step"].to_numpy() * step
        n = 0
        for ax, target in zip(axes, shown):
            valid = fr[f"valid_{target}"].to_numpy().astype(bool)
            true = np.where(valid, fr[target].to_numpy(dtype=float), np.nan)
            p = pred.values[k, : len(t_s), REGRESSION_TARGETS.index(target)]
            p = np.where(valid[: len(p)], p, np.nan)
            ax.plot(t_s, true, color="black", lw=1.5, label="true")
            ax.plot(t_s[: len(p)], p, color="tab:red", lw=1.2, label="predicted (structure only)")
            ax.set_ylabel(target)
            n += int(np.isfinite(true).sum() + np.isfinite(p).sum())
        ax = axes[-1]
        kp = pred.keyframe_prob[k, : len(t_s)]
        ax.plot(t_s[: len(kp)], kp, color="tab:purple", lw=1, label="key probability")
        for s in fr["step"][fr["keyframe"].to_numpy() == 1].to_numpy():
            ax.axvline(s * step, color="black", lw=0.6, alpha=0.6)
        ax.set(ylabel="key", xlabel="time (s)")
        axes[0].legend(fontsize=8, loc="upper right")
        axes[0].set_title(f"{kind} track {k} of {name} ({tl.name}), a validation timeline; black ticks: true keys")
        n += len(kp)
        fname = f"timeline_{kind}.png"
        _save(fig, out_dir / fname)
        drawn[kind] = (fname, n)
    return drawn


def _clip_ylim(ax, values: list[float]) -> None:
    # one diverging trial (val_objective 5+) must not flatten everyone else's curve
    v = [x for x in values if math.isfinite(x)]
    if v:
        lo, hi = min(v), min(max(v), max(np.percentile(v, 90) * 1.15, BASELINE * 1.05))
        ax.set_ylim(lo - 0.03 * (hi - lo + 1e-9), hi + 0.03 * (hi - lo + 1e-9))


def _save(fig, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


# ---------------------------------------------------------------------------------------------- page


def build_report(exp_path: str, out_dir: str | Path | None = None) -> dict[str, Any]:
    """Write the report; returns {"index": path, "plots": {name: {"file", "items"}}, "notes": [...]}."""
    exp = local_experiment(exp_path)
    out = Path(out_dir) if out_dir else exp / REPORT_DIR
    out.mkdir(parents=True, exist_ok=True)
    state = _json(exp / STATE_FILE) or {}
    settings = state.get("settings", {})
    max_t = int(settings.get("epochs", 0)) or None
    trials = read_trials(exp)
    if not trials:
        raise FileNotFoundError(f"{exp}: no trial results (trial_*/result.json); is this an experiment folder?")
    max_t = max_t or max(_last_epoch(t) for t in trials)
    refit = _json(exp / "refit.json")
    refit_trials = read_trials(exp / "refit") if (exp / "refit").is_dir() else []
    labels = {r["trial_id"]: r["label"] for r in (refit or {}).get("rows", [])}
    for t in refit_trials:
        t["label"] = labels.get(t["trial_id"], t["params"].get("refit_of", t["trial_id"]))
    plots: dict[str, dict[str, Any]] = {}
    notes: list[str] = []

    plots["history"] = {"file": "history.png", "items": plot_history(trials, out / "history.png")}
    plots["curves"] = {"file": "curves.png", "items": plot_curves(trials, max_t, refit_trials, out / "curves.png")}
    imp = importances(trials, settings.get("space"))
    plots["importance"] = {"file": "importance.png", "items": plot_importance(imp, out / "importance.png")}

    model_dir = exp / "best_model"
    chosen_metrics, default_metrics = None, None
    if refit and refit.get("chosen"):
        chosen_metrics = refit["chosen"]["metrics"]
        default_metrics = (refit.get("default") or {}).get("metrics")
    elif (model_dir / "metrics.json").is_file():
        chosen_metrics = json.loads((model_dir / "metrics.json").read_text()).get("model")
    if chosen_metrics:
        plots["heads"] = {
            "file": "heads.png",
            "items": plot_heads(chosen_metrics, default_metrics, out / "heads.png"),
        }
    else:
        notes.append("no exported model: per-head ratios and predicted curves left out")
    if (model_dir / "xmlai.json").is_file():
        for kind, (fname, n) in plot_timelines(model_dir, out).items():
            plots[f"timeline_{kind}"] = {"file": fname, "items": n}
        if not any(k.startswith("timeline_") for k in plots):
            notes.append("no validation timeline with keyframes to show predicted against true curves")
    (out / "index.html").write_text(_page(exp_path, settings, trials, max_t, refit, imp, plots, notes))
    (out / "report.json").write_text(json.dumps({"plots": plots, "notes": notes, "importances": imp}, indent=1))
    if is_uri(exp_path):
        upload_dir(out, f"{exp_path}/{REPORT_DIR}")
    return {"index": str(out / "index.html"), "plots": plots, "notes": notes}


def write_report(exp_path: str, out_dir: str | Path | None = None, log=print) -> str:
    """Build the report and return its index.html."""
    rep = build_report(exp_path, out_dir)
    for note in rep["notes"]:
        log(f"report: {note}")
    return rep["index"]


def _page(exp_path, settings, trials, max_t, refit, imp, plots, notes) -> str:
    e = html.escape
    stopped = sum(1 for t in trials if _last_epoch(t) < max_t)
    rows = sorted(trials, key=_best)[:10]
    best_rows = "".join(
        f"<tr><td>{e(t['trial_id'])}</td><td>{_best(t):.4f}</td><td>{_last_epoch(t)}</td>"
        f"<td><code>{e(_params_text(t['params']))}</code></td></tr>"
        for t in rows
    )
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>xmlai search report</title>",
        "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px}"
        "img{max-width:100%;border:1px solid #eee;margin:0.5em 0}code{font-size:12px}</style></head><body>",
        f"<h1>Search report</h1><p>Experiment <code>{e(str(exp_path))}</code>: space "
        f"<b>{e(str(settings.get('space', '?')))}</b>, {len(trials)} trials with results, up to {max_t} epochs "
        f"each, {stopped} stopped early by ASHA. <code>val_objective</code> is the mean over heads of the model's "
        f"validation loss / the constant baseline's (train mean per target, base rates): the constant scores "
        f"{BASELINE:.1f} on any data; lower is better.</p>",
    ]
    if refit:
        parts.append(f"<h2>Refit at the full budget</h2><p><b>{e(refit.get('line', ''))}</b></p>")
        parts.append(
            "<table><tr><th>refit of</th><th>val_objective</th><th>with context</th><th>best epoch</th>"
            "<th>stage 1</th></tr>"
        )
        for r in refit.get("rows", []):
            parts.append(
                f"<tr><td>{e(str(r['label']))}</td><td>{r[OBJECTIVE]:.4f}</td><td>{r['val_objective_ctx']:.4f}</td>"
                f"<td>{r['best_epoch']}/{r['epochs']}</td><td>{_fmt(r.get('stage1_' + OBJECTIVE))}</td></tr>"
            )
        parts.append(
            "</table><p>Every refit trains on the same prepared data for the same epochs and is compared on the "
            "same validation files. The best of several refits is picked on those validation files, so its lead "
            "over the single default run is slightly optimistic.</p>"
        )
    parts.append(
        "<h2>Stage 1: the best trials</h2><table><tr><th>trial</th><th>best val_objective</th>"
        f"<th>epochs</th><th>parameters</th></tr>{best_rows}</table>"
    )
    captions = {
        "history": "Optimisation history: each trial's best val_objective in start order; red: the best so far.",
        "curves": "Learning curves; x: a trial ASHA stopped early. Right: the refits (dashed: the default config).",
        "importance": "Parameter importances (Optuna fANOVA on a study rebuilt from the trials' best values).",
        "heads": "Per-head loss ratios to the constant baseline on the validation files.",
    }
    for name, p in plots.items():
        cap = captions.get(name, "Predicted (from structure alone) against true curves on a validation timeline.")
        parts.append(f"<h3>{e(name)}</h3><p>{e(cap)}</p><img src='{e(p['file'])}' alt='{e(name)}'>")
    if imp:
        parts.append("<p>" + ", ".join(f"{e(k)} {v:.2f}" for k, v in imp.items()) + "</p>")
    for note in notes:
        parts.append(f"<p><i>{e(note)}</i></p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _fmt(v) -> str:
    return f"{v:.4f}" if isinstance(v, (int, float)) and math.isfinite(v) else "-"


def _params_text(params: dict[str, Any]) -> str:
    from distributed.results import describe

    return describe({k: v for k, v in params.items() if "." in k}, 160)


__all__ = ["build_report", "write_report", "read_trials", "importances"]
