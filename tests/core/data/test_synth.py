"""Built-in corpus: generator -> xmeml writer -> reader round trip, determinism, style draws, patterns."""

from __future__ import annotations

import json
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.data.formats import read_bytes
from core.data.formats.xmeml_writer import BOM, write_xmeml
from core.data.synth import MANIFEST, corpus_seed, generate_timeline, write_corpus
from core.data.timeline import Clip, Curve, Key, Timeline, Track

SEEDS = st.integers(min_value=0, max_value=2**31 - 1)


def assert_same_timeline(a: Timeline, b: Timeline) -> None:
    """``b`` (read back) equals ``a`` (written): placements exact, values within 1e-6 relative."""
    assert (a.name, a.rate, a.duration, a.width, a.height) == (b.name, b.rate, b.duration, b.width, b.height)
    assert [(t.kind, t.index, t.enabled, len(t.clips)) for t in a.tracks] == [
        (t.kind, t.index, t.enabled, len(t.clips)) for t in b.tracks
    ]
    for ta, tb in zip(a.tracks, b.tracks):
        for ca, cb in zip(ta.clips, tb.clips):
            where = f"{ta.kind} track {ta.index}, clip {ca.name!r} at {float(ca.start):.3f}s"
            assert (ca.name, ca.start, ca.end, ca.source_in, ca.media_kind, ca.enabled) == (
                cb.name,
                cb.start,
                cb.end,
                cb.source_in,
                cb.media_kind,
                cb.enabled,
            ), where
            assert (ca.transition_in, ca.transition_out) == (cb.transition_in, cb.transition_out), where
            assert sorted(ca.curves) == sorted(cb.curves), where
            for p, cva in ca.curves.items():
                cvb = cb.curves[p]
                assert [k.time for k in cva.keys] == [k.time for k in cvb.keys], f"{where}, {p}"
                assert [k.interp for k in cva.keys] == [k.interp for k in cvb.keys], f"{where}, {p}"
                for ka, kb in zip(cva.keys, cvb.keys):
                    assert math.isclose(ka.value, kb.value, rel_tol=1e-6, abs_tol=1e-9), f"{where}, {p}"


@settings(max_examples=25, deadline=None)
@given(seed=SEEDS)
def test_round_trip_generated(seed: int) -> None:
    tl = generate_timeline(seed)
    (back,) = read_bytes(write_xmeml(tl), f"synth_{seed}.xml")
    assert_same_timeline(tl, back)


@settings(max_examples=20, deadline=None)
@given(seed=SEEDS, draw=st.integers(0, 1000))
def test_round_trip_style_draws(seed: int, draw: int) -> None:
    tl = generate_timeline(seed, style_draw=draw)
    (back,) = read_bytes(write_xmeml(tl), "draw.xml")
    assert_same_timeline(tl, back)


# --- arbitrary timelines of any size, not only what the generator draws -----------------------------

RATES = [Fraction(25), Fraction(30000, 1001), Fraction(24000, 1001), Fraction(30), Fraction(50), Fraction(60000, 1001)]
NAMES = st.sampled_from(["a.mov", "b.mov", "clip 1.mp4", "x&y <1>.mov", "pic.jpg", "still", "music.wav", "vo.wav"])
VALUES = {
    "scale": st.floats(0, 400),
    "rotation": st.floats(-720, 720),
    "opacity": st.floats(0, 100),
    "level_db": st.one_of(st.just(-60.0), st.floats(-59.9, 12)),
    "pan": st.floats(-1, 1),
    "center": st.floats(-2, 2),
}


@st.composite
def curves_for(draw, kind: str, a: int, b: int, rate: Fraction) -> dict[str, Curve]:
    """Curves whose keys sit on frames in [a, b]; centre x/y share their times (one xmeml point)."""
    params = ["scale", "rotation", "opacity", "center"] if kind == "video" else ["level_db", "pan"]
    out: dict[str, Curve] = {}
    for p in draw(st.lists(st.sampled_from(params), unique=True, max_size=len(params))):
        frames = draw(st.lists(st.integers(a, b), min_size=1, max_size=6, unique=True))
        interp = "linear" if len(frames) == 1 else draw(st.sampled_from(["linear", "smooth"]))
        names = ["center_x", "center_y"] if p == "center" else [p]
        for name in names:
            vals = [draw(VALUES[p]) for _ in frames]
            out[name] = Curve([Key(Fraction(f) / rate, v, interp) for f, v in zip(sorted(frames), vals)])
    return out


@st.composite
def timelines(draw) -> Timeline:
    rate = draw(st.sampled_from(RATES))
    tracks: list[Track] = []
    end_all = 1
    for kind, n in (("video", draw(st.integers(0, 3))), ("audio", draw(st.integers(0, 4)))):
        for index in range(n):
            clips: list[Clip] = []
            t = draw(st.integers(0, 50))
            for _ in range(draw(st.integers(0, 5))):
                length = draw(st.integers(1, 200))
                kinds = ["video", "still", "generator", "sequence"] if kind == "video" else ["audio"]
                mk = draw(st.sampled_from(kinds))
                name = draw(NAMES) if mk != "generator" else draw(st.sampled_from(["Title 1", "Color Matte"]))
                clip = Clip(
                    name,
                    Fraction(t) / rate,
                    Fraction(t + length) / rate,
                    source_in=Fraction(draw(st.integers(0, 5000))) / rate,
                    media_kind=mk,
                    enabled=draw(st.booleans()),
                    curves=draw(curves_for(kind, t, t + length - 1, rate)),
                )
                if clips and clips[-1].end == clip.start and draw(st.booleans()):
                    n_tr = draw(st.integers(1, 2 * min(length, round(clips[-1].duration * rate), 30)))
                    clip.source_in += Fraction(n_tr) / rate  # a handle for the transition
                    clips[-1].transition_out = clip.transition_in = Fraction(n_tr) / rate
                clips.append(clip)
                t += length + draw(st.sampled_from([0, 0, 1, 17]))
            end_all = max(end_all, t)
            tracks.append(Track(kind, index, clips, enabled=draw(st.booleans())))
    return Timeline(
        "random timeline",
        rate,
        Fraction(end_all + draw(st.integers(0, 30))) / rate,
        tracks,
        width=draw(st.sampled_from([1920, 1280, 3840])),
        height=draw(st.sampled_from([1080, 720])),
    )


@settings(max_examples=30, deadline=None)
@given(tl=timelines())
def test_round_trip_any_timeline(tl: Timeline) -> None:
    (back,) = read_bytes(write_xmeml(tl), "random.xml")
    assert_same_timeline(tl, back)


def test_round_trip_several_sequences_share_files() -> None:
    tls = [generate_timeline(s) for s in (1, 2, 3)]
    back = read_bytes(write_xmeml(tls), "project.xml")
    assert len(back) == 3
    for a, b in zip(tls, back):
        assert_same_timeline(a, b)


def test_premiere_shape() -> None:
    data = write_xmeml(generate_timeline(7))
    assert data.startswith(BOM + b'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE xmeml>\n<xmeml version="4">')
    text = data.decode("utf-8-sig")
    assert "MZ.Sequence.PreviewFrameSizeWidth" in text and "<pproTicksIn>" in text
    # A <file> is defined once and referenced empty afterwards.
    for fid in {s.split('"')[1] for s in text.split("<file id=")[1:]}:
        assert text.count(f'<file id="{fid}">') == 1


def test_transitions_write_minus_one_edges() -> None:
    seed = next(s for s in range(200) if any(c.transition_in for _, c in generate_timeline(s).iter_clips()))
    text = write_xmeml(generate_timeline(seed)).decode("utf-8-sig")
    assert "<transitionitem>" in text and "<alignment>center</alignment>" in text
    assert "<start>-1</start>" in text and "<end>-1</end>" in text


def test_when_is_in_source_frames() -> None:
    rate = Fraction(25)
    clip = Clip(
        "a.mov",
        Fraction(10),
        Fraction(14),
        source_in=Fraction(100),
        media_kind="video",
        curves={"opacity": Curve([Key(Fraction(10), 0.0), Key(Fraction(11), 100.0)])},
    )
    tl = Timeline("t", rate, Fraction(14), [Track("video", 0, [clip]), Track("audio", 0, [])])
    text = write_xmeml(tl).decode("utf-8-sig")
    assert "<in>2500</in>" in text and "<when>2500</when>" in text and "<when>2525</when>" in text


def test_level_gain_and_floor_round_trip() -> None:
    keys = [Key(Fraction(0), -60.0), Key(Fraction(1), -13.7), Key(Fraction(2), 3.2), Key(Fraction(3), -0.05)]
    clip = Clip("m.wav", Fraction(0), Fraction(4), media_kind="audio", curves={"level_db": Curve(keys)})
    tl = Timeline("t", Fraction(30000, 1001), Fraction(4), [Track("video", 0, []), Track("audio", 0, [clip])])
    # 4 s is not on the 29.97 grid; use frame-exact times instead.
    tl.duration = Fraction(120) / tl.rate
    clip.end = tl.duration
    clip.curves["level_db"] = Curve([Key(Fraction(i * 30) / tl.rate, k.value) for i, k in enumerate(keys)])
    (back,) = read_bytes(write_xmeml(tl), "lvl.xml")
    got = [k.value for k in back.tracks[1].clips[0].curves["level_db"].keys]
    assert np.allclose(got, [-60.0, -13.7, 3.2, -0.05], rtol=1e-9)


def test_deterministic_bytes() -> None:
    for seed in (0, 5, 12345):
        assert write_xmeml(generate_timeline(seed)) == write_xmeml(generate_timeline(seed))
        assert write_xmeml(generate_timeline(seed, 3)) == write_xmeml(generate_timeline(seed, 3))


def _structure(tl: Timeline) -> list:
    return [
        (
            t.kind,
            t.enabled,
            [
                (c.name, c.start, c.end, c.source_in, c.media_kind, c.enabled, c.transition_in, c.transition_out)
                for c in t.clips
            ],
        )
        for t in tl.tracks
    ]


def _curves(tl: Timeline) -> list:
    return [
        {p: [(k.time, k.value, k.interp) for k in cv.keys] for p, cv in c.curves.items()} for _, c in tl.iter_clips()
    ]


@settings(max_examples=20, deadline=None)
@given(seed=SEEDS)
def test_style_draw_keeps_structure_changes_curves(seed: int) -> None:
    own = generate_timeline(seed)
    draws = [generate_timeline(seed, k) for k in range(3)]
    for d in draws:
        assert _structure(d) == _structure(own)
    assert any(_curves(d) != _curves(own) for d in draws) or not any(c.curves for _, c in own.iter_clips())


def test_style_draws_differ_from_each_other() -> None:
    changed = sum(_curves(generate_timeline(s, 0)) != _curves(generate_timeline(s, 1)) for s in range(20))
    assert changed >= 18


# --- corpus patterns ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus() -> list[Timeline]:
    return [generate_timeline(corpus_seed(i)) for i in range(60)]


def _music(tl: Timeline) -> list[Clip]:
    return [c for t in tl.audio_tracks for c in t.clips if c.name.startswith("Music_")]


def _scale(c: Clip) -> float:
    return c.curves["scale"].keys[0].value if "scale" in c.curves else 100.0


def test_scale_follows_the_source_frame_size(corpus: list[Timeline]) -> None:
    """Camera files in another format than the sequence get the editor's scale for that format."""
    by: dict[tuple, list[float]] = {}
    for tl in corpus:
        for t in tl.video_tracks:
            for c in t.clips:
                if c.media_kind == "video" and (tl.width, tl.height) == (1920, 1080):
                    by.setdefault((c.source_width, c.source_height), []).append(_scale(c))
    same = by.pop((1920, 1080))
    assert np.mean(np.array(same) == 100.0) > 0.85  # a few punch-ins, the rest untouched
    assert (1280, 720) in by and (720, 576) in by
    hd720 = np.array(by[(1280, 720)])
    assert np.mean(np.abs(hd720 - 150) < 3) > 0.6 and np.mean(hd720 == 100.0) < 0.3
    pal = np.array(by[(720, 576)])
    assert np.mean((np.abs(pal - 187.5) < 6) | (np.abs(pal - 266.7) < 6)) > 0.6


def test_pan_belongs_to_the_track(corpus: list[Timeline]) -> None:
    """Panned tracks are panned as a whole: one side per track, channel 1 left, channel 2 right."""
    panned = 0
    for tl in corpus:
        for t in tl.audio_tracks:
            pans = [c.curves["pan"].keys[0].value for c in t.clips if "pan" in c.curves]
            if len(pans) < 2 or not any(abs(p) == 1.0 for p in pans):
                continue
            panned += 1
            assert len(set(pans)) == 1, f"{tl.name} A{t.index + 1}: {sorted(set(pans))}"
            channels = {c.source_channel for c in t.clips}
            assert channels == ({1} if pans[0] < 0 else {2})
    assert panned >= 5


def test_most_values_are_static(corpus: list[Timeline]) -> None:
    curves = [cv for tl in corpus for _, c in tl.iter_clips() for cv in c.curves.values()]
    assert np.mean([len(cv) == 1 for cv in curves]) > 0.8
    clips = [c for tl in corpus for _, c in tl.iter_clips()]
    assert np.mean([any(len(cv) > 1 for cv in c.curves.values()) for c in clips]) < 0.12
    assert 0.15 < np.mean([bool(c.curves) for c in clips]) < 0.7


def test_clip_gain_round_trips_and_adds_to_the_level(corpus: list[Timeline]) -> None:
    gained = [(tl, c) for tl in corpus for _, c in tl.iter_clips() if c.gain_db is not None]
    assert len(gained) > 50
    tl, clip = gained[0]
    (back,) = read_bytes(write_xmeml(tl), "gain.xml")
    got = next(c for _, c in back.iter_clips() if c.start == clip.start and c.gain_db is not None)
    assert math.isclose(got.gain_db, clip.gain_db, abs_tol=1e-9)
    assert math.isclose(got.curves["level_db"].keys[0].value, clip.curves["level_db"].keys[0].value, rel_tol=1e-6)


def test_music_fades_out_at_the_end(corpus: list[Timeline]) -> None:
    ends = [m[-1].curves["level_db"].keys[-1].value for m in map(_music, corpus) if m and "level_db" in m[-1].curves]
    assert len(ends) > 20
    assert 0.3 < np.mean(np.array(ends) <= -59.9) < 0.95


def test_level_and_pan_habits_change_with_the_style_draw() -> None:
    """Different style draws of one structure disagree: the task cannot be solved from structure alone."""
    seed = next(s for s in range(100) if _music(generate_timeline(s)))
    bases = []
    for k in range(12):
        vals = [k.value for m in _music(generate_timeline(seed, k)) for k in m.curves.get("level_db", Curve()).keys]
        bases.append(max(vals) if vals else 0.0)
    assert np.std(bases) > 2.0


def test_keys_lie_on_frames_inside_clips(corpus: list[Timeline]) -> None:
    for tl in corpus:
        for _, c in tl.iter_clips():
            for cv in c.curves.values():
                for k in cv.keys:
                    assert (k.time * tl.rate).denominator == 1
                    assert c.start <= k.time < c.end


def test_realistic_shape(corpus: list[Timeline]) -> None:
    n_video = [len(tl.video_tracks) for tl in corpus]
    n_audio = [len(tl.audio_tracks) for tl in corpus]
    assert 1 <= min(n_video) and max(n_video) <= 3 and 2 <= min(n_audio) and max(n_audio) <= 5
    assert max(v + a for v, a in zip(n_video, n_audio)) <= 8  # one window's tracks
    assert all(30 <= float(tl.duration) <= 180 for tl in corpus)
    lengths = [float(c.duration) for tl in corpus for _, c in tl.iter_clips()]
    assert 2.0 < np.median(lengths) < 8.0
    assert {tl.rate for tl in corpus} == {Fraction(25), Fraction(30000, 1001), Fraction(24000, 1001), Fraction(30)}


def test_write_corpus_idempotent(tmp_path) -> None:
    paths = write_corpus(tmp_path, 4)
    assert [p.name for p in paths] == [f"synth_{i:05d}.xml" for i in range(4)]
    mtimes = [p.stat().st_mtime_ns for p in paths]
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    assert sorted(manifest["files"]) == [p.name for p in paths]
    assert write_corpus(tmp_path, 4) == paths
    assert [p.stat().st_mtime_ns for p in paths] == mtimes  # nothing rewritten
    paths[1].write_bytes(b"junk")
    write_corpus(tmp_path, 4)
    assert paths[1].read_bytes() == write_xmeml(generate_timeline(corpus_seed(1)))
    for p in paths:
        (tl,) = read_bytes(p.read_bytes(), p.name)
        assert tl.tracks
