"""What the training-loop tests share: the tiny run's config and hooks that interrupt a run."""

from __future__ import annotations

from core.learn.train_loop import LocalHooks

# The learnable heads (scale, opacity, level, keyframe): a few epochs of a tiny model beat the constant.
TINY = {
    "data": {"synth_count": 24, "window": 40, "overlap": 0, "max_tracks": 8},
    "model": {
        "preset": "tiny",
        "dropout": 0.0,
        "targets": ["scale", "opacity", "level_db"],
        "classify": ["keyframe", "interpolation"],
    },
    "train": {"epochs": 4, "batch_size": 16, "lr": 3e-3, "early_stopping": 0, "seed": 1},
}


class Interrupt(LocalHooks):
    """Stops the run like a Ctrl-C right after epoch ``stop_after`` was checkpointed."""

    def __init__(self, out_dir, stop_after: int) -> None:
        super().__init__(out_dir)
        self.stop_after = stop_after

    def report(self, metrics, checkpoint_dir):
        super().report(metrics, checkpoint_dir)
        if metrics["epoch"] == self.stop_after:
            raise KeyboardInterrupt
