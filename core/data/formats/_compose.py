"""A container's adjustments on top of its content's: an FCPXML compound or multicam clip over the clips it
plays, a Kdenlive composition over the clips of its upper track (the rules are in the readers' docstrings).
"""

from __future__ import annotations

from core.data.timeline import LEVEL_FLOOR_DB, PARAMS, Clip, Curve, Key

# How a container's adjustment combines with its content's (canonical units): picture scale and
# opacity multiply, angles add, levels add in dB; pan is the content's if it has one. The container
# scales and moves the frame its content sits in, so the content's offset from the centre scales
# with it: centre = the container's + its scale * the content's (``CENTRES``; its rotation is left out).
COMBINE = {
    "scale": lambda a, b: a * b / 100.0,
    "opacity": lambda a, b: a * b / 100.0,
    "rotation": lambda a, b: a + b,
    "center_x": lambda a, b: a + b,
    "center_y": lambda a, b: a + b,
    "level_db": lambda a, b: LEVEL_FLOOR_DB if min(a, b) <= LEVEL_FLOOR_DB else max(LEVEL_FLOOR_DB, a + b),
}
CENTRES = ("center_x", "center_y")


def compose_into(clip: Clip, container: Clip, static_interp: str = "smooth") -> None:
    """Apply a container's own adjustments on top of one of its contents.

    Curves combine key by key over the union of both key times (``COMBINE``); a side without a
    curve counts with its static value or the default. The result is static when neither side
    is animated: one key at the clip's start, interpolated as the dialect's static keys are
    (``static_interp``).
    """
    outer_scale = container.curves.get("scale")
    scale_static = outer_scale is None or "scale" in container.static
    if outer_scale is None:
        outer_scale = Curve([Key(clip.start, container.static.get("scale", PARAMS["scale"][0]))])
    canons = set(container.curves) | set(container.static)
    offset = {c for c in CENTRES if c in clip.curves or abs(clip.static.get(c, 0.0)) > 1e-12}  # the content's own
    if not scale_static or abs(outer_scale.keys[0].value - 100.0) > 1e-9:  # the content's offset scales with it
        canons |= offset
    for canon in sorted(canons):  # sorted: the same dicts whatever the hash seed
        combine = COMBINE.get(canon)
        mine, theirs = clip.curves.get(canon), container.curves.get(canon)
        mine_static = canon in clip.static or mine is None
        theirs_static = canon in container.static or theirs is None
        centre = canon in CENTRES
        follows = canon in offset and not scale_static  # a content's offset moves with an animated scale
        if follows:
            theirs_static = theirs_static and scale_static
            if theirs is None:  # keys where the scale has them
                theirs = Curve([Key(k.time, container.static.get(canon, 0.0), k.interp) for k in outer_scale.keys])
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
                times = {k.time for k in a.keys} | {k.time for k in b.keys}
                if follows:
                    times |= {k.time for k in outer_scale.keys}
                times = sorted(times)
                # where both have a key, the content's interpolation wins, and an animated side's over a side set
                # to one value (whose one key's interpolation says nothing about the other side's segments)
                # (a volume fade's keys ramp the gain: ``Key.amplitude`` goes with the interpolation)
                shape = {k.time: (k.interp, k.amplitude) for k in b.keys if theirs_static}
                interp = shape | {k.time: (k.interp, k.amplitude) for k in a.keys}
                interp |= {k.time: (k.interp, k.amplitude) for k in b.keys if not theirs_static}
                interp |= {k.time: (k.interp, k.amplitude) for k in a.keys if not mine_static}
                if follows:
                    interp = {k.time: (k.interp, False) for k in outer_scale.keys} | interp
                values = [(a.value_at(t), b.value_at(t)) for t in times]
                if centre:
                    values = [
                        (mine_v * outer_scale.value_at(t) / 100.0, theirs_v)
                        for t, (mine_v, theirs_v) in zip(times, values)
                    ]
                clip.curves[canon] = Curve([Key(t, combine(*v), *interp[t]) for t, v in zip(times, values)])
            if mine_static and theirs_static:
                mine_v = clip.static.get(canon, default)
                if centre:
                    mine_v *= outer_scale.keys[0].value / 100.0
                value = combine(mine_v, container.static.get(canon, default))
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
    if not scale_static or abs(outer_scale.keys[0].value - 100.0) > 1e-9:
        if clip.outer_scale is None:
            clip.outer_scale = outer_scale
        else:  # nested containers: their scales multiply
            mine_scale = clip.outer_scale
            times = sorted({k.time for k in mine_scale.keys} | {k.time for k in outer_scale.keys})
            clip.outer_scale = Curve(
                [Key(t, mine_scale.value_at(t) * outer_scale.value_at(t) / 100.0, "linear") for t in times]
            )
    clip.effects = clip.effects + container.effects
