"""MLT reader, issue 7: a rect whose shape is not the profile's. Without ``distort`` MLT fits the picture in
the rect keeping its aspect (qtblend: ``MIN(rect.w / b_width, rect.h / b_height)``, the picture centred in
the rect), so the scale is the picture's shown size against the same picture fitted to the frame. Shotcut's
Size, Position & Rotate writes the rect in the source's shape: a portrait page filling the frame's height
has a rect 592.7 pixels wide in a 1080-wide profile (remorses/meltica ``shotcut.mlt``), which was read as
55 % where it shows at 100 %. Expected values are worked out by hand below."""

from __future__ import annotations

import pytest

from core.data.formats import read_bytes

# A portrait profile (1080x1920) and a 720x2342 page, as in the public Shotcut project.
PROFILE = '<profile frame_rate_num="30" frame_rate_den="1" width="1080" height="1920"/>'
PAGE = (
    '<property name="resource">page.jpg</property><property name="meta.media.width">720</property>'
    '<property name="meta.media.height">2342</property>'
)


def _clip(rect: str, extra: str = "", source: str = PAGE, service: str = "affine"):
    prop = "transition.rect" if service == "affine" else "rect"
    doc = (
        f'<mlt version="7.30.0">{PROFILE}<producer id="p" in="0" out="89">{source}'
        f'<filter id="f"><property name="mlt_service">{service}</property>'
        f'<property name="{prop}">{rect}</property>{extra}</filter></producer>'
        '<playlist id="v"><entry producer="p" in="0" out="89"/></playlist>'
        '<tractor id="t"><track producer="v"/></tractor></mlt>'
    )
    (tl,) = read_bytes(doc.encode(), "rect.mlt")
    (clip,) = tl.tracks[0].clips
    return clip


def _static(clip, param: str) -> float:
    return clip.static.get(param, {"scale": 100.0, "center_x": 0.0, "center_y": 0.0}[param])


def test_a_page_in_a_rect_of_its_own_shape_filling_the_frame_height_is_at_full_size():
    # 720x2342 fitted to the frame: height-limited (1920 * 720 / 2342 = 590.3 < 1080), shown 1920 high.
    # In the rect 592.7 x 1927.94 (the page's shape) it shows 1927.94 high: 1927.94 / 1920 = 100.41 %.
    clip = _clip("221.528 -7.60509 592.707 1927.94 1")
    assert _static(clip, "scale") == pytest.approx(1927.94 / 1920 * 100, abs=1e-6)
    assert _static(clip, "center_x") == pytest.approx((221.528 + 592.707 / 2) / 1080 - 0.5, abs=1e-9)
    assert _static(clip, "center_y") == pytest.approx((-7.60509 + 1927.94 / 2) / 1920 - 0.5, abs=1e-9)


def test_a_wider_rect_fits_the_page_by_its_height_and_centres_it():
    # Rect 1080 x 960: the page shows 960 high (width 295.1 < 1080), half its frame-fitted height: 50 %.
    clip = _clip("0 0 1080 960", service="qtblend")
    assert _static(clip, "scale") == pytest.approx(50.0)
    assert _static(clip, "center_x") == pytest.approx(0.0, abs=1e-9)  # centred in the rect
    assert _static(clip, "center_y") == pytest.approx(480 / 1920 - 0.5)


def test_alignment_places_the_fitted_picture_in_the_rect():
    # The same rect, aligned left: the 295.1-wide page's centre is 147.6 pixels in from the left.
    clip = _clip("0 0 1080 960", '<property name="transition.halign">left</property>')
    shown_w = 960 * 720 / 2342
    assert _static(clip, "center_x") == pytest.approx(shown_w / 2 / 1080 - 0.5)
    assert _static(clip, "scale") == pytest.approx(50.0)


def test_distort_stretches_the_picture_over_the_rect_and_the_width_decides():
    clip = _clip("0 0 540 1920", '<property name="transition.distort">1</property>')
    assert _static(clip, "scale") == pytest.approx(50.0)


def test_a_source_of_unknown_shape_is_taken_in_the_profile_shape():
    # No meta.media size: the picture is taken to have the profile's shape, so a rect half as wide and
    # three quarters as high shows it at half size (the smaller of the two).
    clip = _clip("0 0 540 1440", source='<property name="resource">colour</property>')
    assert _static(clip, "scale") == pytest.approx(50.0)


def test_a_rect_in_the_profile_shape_reads_as_before_whatever_the_source():
    # A rect of the profile's shape scales any picture by its width ratio: w / W.
    wide = '<property name="meta.media.width">1920</property><property name="meta.media.height">1080</property>'
    for source in (PAGE, wide):
        clip = _clip("270 480 540 960", source=source)
        assert _static(clip, "scale") == pytest.approx(50.0)
        assert _static(clip, "center_x") == pytest.approx(0.0, abs=1e-9)
