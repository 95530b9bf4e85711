"""xmlai core: plain Python + PyTorch. Never imports ray (distributed/ is the only Ray adapter)."""

__version__ = "0.1.0"
