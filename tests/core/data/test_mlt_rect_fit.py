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
    # No meta.media size: the picture is taken to have the profile's shape, so qtblend shows it in a rect half as
    # wide and three quarters as high at half size (the smaller of the two).
    clip = _clip("0 0 540 1440", source='<property name="resource">colour</property>', service="qtblend")
    assert _static(clip, "scale") == pytest.approx(50.0)


def test_affines_fill_makes_the_picture_as_high_as_the_rect_whatever_its_shape():
    # MLT affine's fill (1 unless set: transition_affine_init) skips the fit: a picture no wider than the frame is
    # drawn as high as the rect, overflowing a narrower rect (Shotcut's Fill mode; srfoster/meta-viral-videos's QR
    # code in a square rect). The same rect with fill 0 (Shotcut's Fit) fits the picture in.
    colour = '<property name="resource">colour</property>'
    assert _static(_clip("0 0 540 1440", source=colour), "scale") == pytest.approx(75.0)
    fit = '<property name="transition.fill">0</property>'
    assert _static(_clip("0 0 540 1440", fit, source=colour), "scale") == pytest.approx(50.0)
    # A picture wider than the frame (16:9 in the portrait profile) is as wide as the rect: 540 / 1080.
    wide = '<property name="meta.media.width">1920</property><property name="meta.media.height">1080</property>'
    assert _static(_clip("0 0 540 1440", source=wide), "scale") == pytest.approx(50.0)


def test_shotcuts_fill_mode_rect_gives_the_shape_of_a_picture_of_unknown_size():
    # ReevTheChameleon/DataPersistence (Shotcut 22.01): screen recordings without meta.media in a square profile,
    # Fill-mode rects of 16:9 (Shotcut keeps a Fill rect at the picture's shape). 16:9 fitted to 1080 x 1920 is
    # 1080 x 607.5; shown 2390.4 high: 393.5 %.
    rec = '<property name="resource">rec.mkv</property>'
    props = '<property name="shotcut:filter">affineSizePosition</property><property name="transition.fill">1</property>'
    clip = _clip("-1899.09 -1088.15 4249.6 2390.4 1", props, source=rec)
    assert _static(clip, "scale") == pytest.approx(2390.4 / (1080 * 9 / 16) * 100)
    assert _static(clip, "center_y") == pytest.approx((-1088.15 + 2390.4 / 2) / 1920 - 0.5)


def test_a_rect_in_the_profile_shape_reads_as_before_whatever_the_source():
    # A rect of the profile's shape scales any picture by its width ratio: w / W.
    wide = '<property name="meta.media.width">1920</property><property name="meta.media.height">1080</property>'
    for source in (PAGE, wide):
        clip = _clip("270 480 540 960", source=source)
        assert _static(clip, "scale") == pytest.approx(50.0)
        assert _static(clip, "center_x") == pytest.approx(0.0, abs=1e-9)


def _turned(rotate_center: str, rotation: str):
    centre = f'<property name="rotate_center">{rotate_center}</property>' if rotate_center else ""
    doc = (
        '<mlt version="7.0.0"><profile frame_rate_num="25" frame_rate_den="1" width="1920" height="1080"/>'
        '<producer id="p" in="0" out="99"><property name="mlt_service">color</property>'
        f'<filter><property name="mlt_service">qtblend</property>{centre}'
        f'<property name="rect">960 270 960 540 1</property><property name="rotation">{rotation}</property>'
        '</filter></producer><playlist id="v"><entry producer="p" in="0" out="99"/></playlist>'
        '<tractor id="t"><track producer="v"/></tractor></mlt>'
    )
    (tl,) = read_bytes(doc.encode(), "turn.kdenlive")
    return tl.tracks[0].clips[0]


def test_qtblend_turns_about_the_rects_corner_unless_rotate_center():
    # MLT's qtblend: `if (rotate_center)` it turns about the rect's centre, else ("old style") about its top-left
    # corner; the property defaults to 0 (KDE's test suite: qtblend-rotate.kdenlive). The half-size picture at
    # (960, 270) turned 90 degrees about that corner has its centre at (960 - 270, 270 + 480) = (690, 750) pixels.
    about_centre = _turned("1", "90")
    assert (_static(about_centre, "center_x"), _static(about_centre, "center_y")) == (pytest.approx(0.25), 0.0)
    for rotate_center in ("0", ""):
        clip = _turned(rotate_center, "90")
        assert _static(clip, "center_x") == pytest.approx(690 / 1920 - 0.5)
        assert _static(clip, "center_y") == pytest.approx(750 / 1080 - 0.5)
        assert _static(clip, "scale") == pytest.approx(50.0)
    # Turning 0 -> 90 over frames 0-99, the centre moves on an arc: keys every 15 degrees, on the circle about
    # the corner of radius |(480, 270)|.
    clip = _turned("0", "0=0;99=90")
    xs, ys = clip.curves["center_x"].keys, clip.curves["center_y"].keys
    assert len(xs) == 7 and [k.time for k in xs] == [k.time for k in ys]
    for kx, ky in zip(xs, ys):
        dx, dy = (kx.value + 0.5) * 1920 - 960, (ky.value + 0.5) * 1080 - 270
        assert dx**2 + dy**2 == pytest.approx(480**2 + 270**2)


def test_a_colour_clip_is_the_frames_shape_in_a_fill_mode_rect():
    # azadro888/antonia_zadro_projektni_zadatak (Shotcut 25.12): a transparent colour clip under a Fill-mode rect.
    # A colour producer renders the frame's shape, so MLT draws it as high as the rect, whatever the rect's shape:
    # a 2160 x 960 rect in the 1080 x 1920 profile shows it 960 high, 50 %. (Taking its shape from the rect, 2.25,
    # the reader read 200 %: 960 against 480, the height such a picture fits the frame at.)
    colour = '<property name="mlt_service">color</property><property name="resource">#00000000</property>'
    props = '<property name="shotcut:filter">affineSizePosition</property><property name="transition.fill">1</property>'
    assert _static(_clip("-540 0 2160 960", props, source=colour), "scale") == pytest.approx(50.0)
