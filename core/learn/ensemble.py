"""The weighted mean of several trained models' outputs, one model to evaluate, export and annotate with.

On the real corpora (issue 6) two models of one split err in opposite directions: the default loss follows
the structure where it explains a widely spread head (pan, opacity, scale), ``loss.programme_floor 0.1``
keeps each programme near its own level. The mean of their outputs (every head's, keyframe and
interpolation logits included) was better than either on average over four splits of the real corpora
(``benchmarks/average_models.py``, README "Measured"). Members must have been trained on the same data
(the same scalers, so the same training windows) and predict the same heads on the same windows;
their architectures and losses may differ.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor, nn

from core.learn.checkpoint import PersistenceError, load_checkpoint

# what a member's data config must share with the first member's: the windows a model reads
_WINDOW_FIELDS = ("step_s", "window", "overlap", "max_tracks")


class MeanModel(nn.Module):
    """``sum_i w_i * member_i(batch)`` on every output tensor; the weights are normalised to sum to 1."""

    def __init__(self, members: Sequence[nn.Module], weights: Sequence[float] | None = None) -> None:
        super().__init__()
        if not members:
            raise ValueError("a mean of models needs at least one member")
        w = torch.tensor([1.0] * len(members) if weights is None else [float(x) for x in weights])
        if len(w) != len(members):
            raise ValueError(f"{len(members)} models but {len(w)} weights")
        if not bool(torch.isfinite(w).all()) or bool((w < 0).any()) or float(w.sum()) <= 0:
            raise ValueError(f"weights must be finite, >= 0 and not all 0, got {w.tolist()}")
        self.members = nn.ModuleList(members)
        self.register_buffer("weights", w / w.sum())

    def forward(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        out: dict[str, Tensor] = {}
        i = 0
        for member in self.members:
            w = self.weights[i]
            for k, v in member(batch).items():
                if k in out:
                    out[k] = out[k] + w * v
                else:
                    out[k] = w * v
            i += 1
        return out


def check_members(members: Sequence[tuple[str, object, object]]) -> None:
    """``(name, config, scalers)`` of each member: a PersistenceError naming the member and what differs
    where one was not trained on the first one's data or predicts other heads on other windows."""
    name0, cfg0, sc0 = members[0]
    for name, cfg, sc in members[1:]:
        if sc.to_json() != sc0.to_json():
            raise PersistenceError(
                f"{name}: trained on other data than {name0} (their scalers.json differ); "
                "average only models trained on the same data and split"
            )
        for section, fields in (("model", ("targets", "classify")), ("data", _WINDOW_FIELDS)):
            for f in fields:
                a, b = getattr(getattr(cfg0, section), f), getattr(getattr(cfg, section), f)
                if a != b:
                    raise PersistenceError(f"{name}: {section}.{f} is {b!r}, {name0} has {a!r}")


def load_mean(dirs: Sequence[str | Path], weights: Sequence[float] | None = None):
    """(MeanModel in eval mode, the members' configs, the shared scalers) from checkpoint folders."""
    loaded = [load_checkpoint(d) for d in dirs]
    check_members([(str(d), cfg, sc) for d, (_, cfg, sc) in zip(dirs, loaded)])
    model = MeanModel([m for m, _, _ in loaded], weights).eval()
    return model, [cfg for _, cfg, _ in loaded], loaded[0][2]
