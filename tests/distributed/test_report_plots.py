"""The report's per-head plot draws the model beside the validation data's best constant and the same-track rule."""

from __future__ import annotations

import matplotlib.image as mpimg

from distributed.report import plot_heads


def test_heads_plot_shows_model_context_and_rule_against_the_data_constant(tmp_path):
    heads = ("scale", "pan", "keyframe")
    chosen = {f"ratio/{h}": 0.9 for h in heads}
    chosen |= {f"vs_data/ratio/{h}": 0.95 for h in heads}
    chosen |= {f"ctx_vs_data/ratio/{h}": 0.7 for h in heads}
    chosen |= {f"same_track/ctx_ratio/{h}": 0.8 for h in heads}
    out = tmp_path / "heads.png"
    assert plot_heads(chosen, {f"vs_data/ratio/{h}": 1.1 for h in heads}, out) == len(heads)
    assert mpimg.imread(out).std() > 0  # something was drawn
    old = tmp_path / "old.png"  # metrics written before the data-constant ratios: the train-constant ratios
    assert plot_heads({f"ratio/{h}": 0.9 for h in heads}, None, old) == len(heads)
