"""A container's adjustments on top of its content's: an FCPXML compound or multicam clip over the clips it
plays, a Kdenlive composition over the clips of its upper track (the rules are in the readers' docstrings).
"""

from __future__ import annotations

from core.data.timeline import LEVEL_FLOOR_DB, PARAMS, Clip, Curve, Key

# How a container's adjustment combines with its content's (canonical units): picture scale and
# opacity multiply, offsets and angles add, levels add in dB; pan is the content's if it has one.
COMBINE = {
    "scale": lambda a, b: a * b / 100.0,
    "opacity": lambda a, b: a * b / 100.0,
    "rotation": lambda a, b: a + b,
    "center_x": lambda a, b: a + b,
    "center_y": lambda a, b: a + b,
    "level_db": lambda a, b: LEVEL_FLOOR_DB if min(a, b) <= LEVEL_FLOOR_DB else max(LEVEL_FLOOR_DB, a + b),
}


def compose_into(clip: Clip, container: Clip, static_interp: str = "smooth") -> None:
    """Apply a container's own adjustments on top of one of its contents.

    Curves combine key by key over the union of both key times (``COMBINE``); a side without a
    curve counts with its static value or the default. The result is static when neither side
    is animated: one key at the clip's start, interpolated as the dialect's static keys are
    (``static_interp``).
    """
    for canon in sorted(set(container.curves) | set(container.static)):  # sorted: the same dicts whatever the hash seed
        combine = COMBINE.get(canon)
        mine, theirs = clip.curves.get(canon), container.curves.get(canon)
        mine_static = canon in clip.static or mine is None
        theirs_static = canon in container.static or theirs is None
        if combine is None:  # pan: the content's own wins
            if mine is None and theirs is not None:
                clip.curves[canon] = theirs
            if mine is None and canon not in clip.static and canon in container.static:
                clip.static[canon] = container.static[canon]
        else:
            default = PARAMS[canon][0]
            if mine is not None or theirs is not None:
                a = mine or Curve([Key(clip.start, clip.static.get(canon, default))])
                b = theirs or Curve([Key(clip.start, container.static.get(canon, default))])
                times = sorted({k.time for k in a.keys} | {k.time for k in b.keys})
                # where both have a key, the content's interpolation wins, and an animated side's over a side set
                # to one value (whose one key's interpolation says nothing about the other side's segments)
                interp = {k.time: k.interp for k in b.keys if theirs_static} | {k.time: k.interp for k in a.keys}
                interp |= {k.time: k.interp for k in b.keys if not theirs_static}
                interp |= {k.time: k.interp for k in a.keys if not mine_static}
                clip.curves[canon] = Curve([Key(t, combine(a.value_at(t), b.value_at(t)), interp[t]) for t in times])
            if mine_static and theirs_static:
                value = combine(clip.static.get(canon, default), container.static.get(canon, default))
                clip.static[canon] = value
                # one value: one key at the clip's start, as for any static value (none at the default)
                if abs(value - default) > 1e-9:
                    clip.curves[canon] = Curve([Key(clip.start, value, static_interp)])
                else:
                    clip.curves.pop(canon, None)
            else:
                clip.static.pop(canon, None)
        if canon not in clip.param_refs and canon in container.param_refs:
            clip.param_refs[canon] = container.param_refs[canon]
    clip.effects = clip.effects + container.effects
