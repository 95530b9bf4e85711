"""Flattening FCPXML compound (``ref-clip``) and multicam (``mc-clip``) clips: a content clip cut to
its container's range (here) and combined with the container's own adjustments (``_compose``; the rules
are in ``fcpxml.py``'s docstring; the walk itself is ``_Reader.flatten``).
"""

from __future__ import annotations

from fractions import Fraction

from core.data.timeline import Clip


def cut_to(clip: Clip, lo: Fraction, hi: Fraction) -> bool:
    """Cut ``clip`` to [lo, hi) (a compound's range); False when nothing of it is left."""
    if clip.end <= lo or clip.start >= hi:
        return False
    if clip.start < lo:
        clip.source_in += lo - clip.start
        clip.start, clip.transition_in = lo, Fraction(0)
    if clip.end > hi:
        clip.end, clip.transition_out = hi, Fraction(0)
    clip.source_out = clip.source_in + (clip.end - clip.start)
    return True
