"""What stage 2 (``distributed.refit``) says: the refit table, the one line that ends a search (the best refit
against the default config, and their mean), and how much one run's objective moves by itself."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from distributed.results import describe
from distributed.settings import BASELINE, OBJECTIVE

if TYPE_CHECKING:
    from distributed.refit import RefitResult

# a refit's param naming its stage-1 trial; no dot: search_spaces.overrides_of drops it, so it labels a refit
# without changing it (and the table leaves it out)
LABEL_KEY = "refit_of"


def epoch_jitter(reports: list[dict[str, Any]], trial_id: str) -> float | None:
    """How much one run's val_objective moves from epoch to epoch once it has settled: the mean absolute
    change between consecutive epochs of the second half of ``trial_id``'s epochs (None under 3 epochs).
    A lead smaller than this is not one a second seed would be expected to keep."""
    ys = [r[OBJECTIVE] for r in sorted(reports, key=lambda r: r["epoch"]) if r["trial_id"] == trial_id]
    tail = ys[len(ys) // 2 - 1 :] if len(ys) >= 3 else []
    steps = [abs(a - b) for a, b in zip(tail, tail[1:]) if math.isfinite(a) and math.isfinite(b)]
    return sum(steps) / len(steps) if steps else None


def comparison_line(
    best: dict[str, Any] | None,
    default: dict[str, Any] | None,
    jitter: float | None = None,
    mean: dict[str, Any] | None = None,
) -> str:
    """The search's last line: the best refit against the default config on the same footing; ``jitter``
    (the default run's ``epoch_jitter``) says whether a lead is larger than one run's own noise; ``mean`` (the
    two models' outputs averaged, ``mean_row``) is exported where it beats both."""
    same = "(same data, same budget, same validation files)"
    if best is None or default is None:
        missing = "no refit of a stage-1 configuration" if best is None else "the default config's refit"
        return f"refit: {missing} finished, no comparison {same}"
    b, d = best[OBJECTIVE], default[OBJECTIVE]
    line = f"refit best {b:.4f} vs default config {d:.4f} {same}"
    # the search ranks structure only; a user who gives keys wants to know the other figure too
    bc, dc = best.get("val_objective_ctx", math.nan), default.get("val_objective_ctx", math.nan)
    ctx = _given(bc, dc)
    if mean is not None:
        m, mc = mean[OBJECTIVE], mean.get("val_objective_ctx", math.nan)
        if m < min(b, d):
            ctx = _given(mc, dc) or ctx
            lead = min(b, d) - m
            return f"{line}: their mean {m:.4f} beats both by {lead:.4f}{_tie(lead, jitter)}; exported the mean{ctx}"
        ctx += f"; their mean {m:.4f}" + (f" ({mc:.4f} half given)" if math.isfinite(mc) else "") + ", not better"
    if b < d:
        return f"{line}: the search beats the default by {d - b:.4f}{_tie(d - b, jitter)}; exported the best refit{ctx}"
    return f"{line}: the search did NOT beat the default config; exported the default config's model{ctx}"


def _given(x: float, default: float) -> str:
    """The figures with half the clips given, of the exported candidate ``x`` against the default's ('' without one)."""
    if not (math.isfinite(x) and math.isfinite(default)):
        return ""
    return f"; with half the clips given {x:.4f} vs {default:.4f}" + (
        " (the default config is better there)" if default < x else ""
    )


def _tie(lead: float, jitter: float | None) -> str:
    if jitter is not None and lead < jitter:
        return f" (within the default run's epoch-to-epoch jitter of {jitter:.4f}: about a tie)"
    return ""


def format_refit_table(r: RefitResult) -> str:
    lines = [
        f"\nrefit at the full budget, best first ({OBJECTIVE}; the constant baseline scores {BASELINE:.1f}):",
        f"{'refit of':<10} {OBJECTIVE:>13} {'w/ context':>10} {'epoch':>6} {'stage 1':>8}  params",
    ]
    for row in r.rows:
        params = {k: v for k, v in row["params"].items() if k != LABEL_KEY}
        lines.append(
            f"{row['label']:<10} {row[OBJECTIVE]:>13.4f} {row['val_objective_ctx']:>10.4f} "
            f"{row['best_epoch']:>3}/{row['epochs']:<2} {row['stage1_' + OBJECTIVE]:>8.4f}  "
            f"{describe(params) if params else '(the default config)'}"
        )
    if r.mean is not None:
        lines.append(
            f"{'mean':<10} {r.mean[OBJECTIVE]:>13.4f} {r.mean['val_objective_ctx']:>10.4f} {'':>6} {'':>8}  "
            f"the outputs of {' and '.join(r.mean['labels'])} averaged (no training)"
        )
    floor = next((row["noise_floor"] for row in r.rows if math.isfinite(row["noise_floor"])), math.nan)
    if math.isfinite(floor):
        lines.append(f"noise floor of this data (best achievable from structure, interpolation aside): {floor:.4f}")
    return "\n".join(lines)
