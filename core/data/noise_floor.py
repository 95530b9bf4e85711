"""The built-in corpus's noise floor: the targets of other style/noise draws of the same structure.

``core.data.synth`` knows the noise it adds, so for each of its files the best achievable prediction
(the mean over other draws) is known, and reports can show how much of the gap between the constant
baseline and that floor a model closes.
"""

from __future__ import annotations

import os
import re

import numpy as np

from core.config import DataConfig
from core.data import synth
from core.data.formats import read_bytes
from core.data.formats.xmeml_writer import write_xmeml
from core.data.windows import windows_of

ORACLE_KEYS = ("oracle_targets", "oracle_keyframe")
ORACLE_DRAWS = 16  # style/noise draws averaged for the noise floor
_SYNTH_NAME = re.compile(r"^synth_(\d{5})\.xml$")


def builtin_oracle(
    name: str, data: bytes, cfg: DataConfig, windows: dict[str, np.ndarray], draws: int = ORACLE_DRAWS
) -> dict[str, np.ndarray] | None:
    """Noise floor of a built-in corpus file: targets (N, K, T, R) and keyframe probability (N, K, T)
    averaged over ``draws`` other style/noise draws of the same structure, aligned with ``windows``.

    None unless the file is byte-for-byte what ``core.data.synth`` writes for its name (so a user's file that
    happens to be called synth_00001.xml never gets a made-up floor). Draws go through the same
    xmeml writer and reader as the corpus, so units and rounding match the file's targets.
    """
    m = _SYNTH_NAME.match(os.path.basename(name))
    if cfg.data_dir is not None or m is None:
        return None
    seed = synth.corpus_seed(int(m.group(1)), cfg.synth_seed)
    if write_xmeml(synth.generate_timeline(seed)) != data:
        return None
    acc_t = np.zeros(windows["targets"].shape, np.float64)  # (N, K, T, R)
    acc_k = np.zeros(windows["keyframe"].shape, np.float64)  # (N, K, T)
    for k in range(draws):
        w = windows_of(read_bytes(write_xmeml(synth.generate_timeline(seed, style_draw=k)), name), cfg)
        if any(
            w[key].shape != windows[key].shape or not np.array_equal(w[key], windows[key])
            for key in ("step_mask", "clip_id", "target_valid", "keyframe_valid")
        ):
            return None  # not the same structure: no honest floor for this file
        acc_t += w["targets"]
        acc_k += w["keyframe"]
    return {"oracle_targets": (acc_t / draws).astype(np.float32), "oracle_keyframe": (acc_k / draws).astype(np.float32)}
