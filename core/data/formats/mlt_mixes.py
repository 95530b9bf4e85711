"""The MLT reader's Kdenlive same-track mixes: two clips of one track that overlap across its two playlists,
resolved to their cut (the rule is in ``mlt.py``'s docstring)."""

from __future__ import annotations

from bisect import bisect_right
from fractions import Fraction
from operator import attrgetter

from lxml import etree

from core.data.formats.mlt_base import MltBase, count
from core.data.timeline import Clip

_start = attrgetter("start")


class MixReading(MltBase):
    """Resolves a Kdenlive track's mixes (mixed into the MLT reader)."""

    def resolve_mixes(self, track: etree._Element, by_playlist: list[list[Clip]], where: str) -> None:
        """Kdenlive's same-track mixes: the second clip of a mix sits on the track's other playlist and
        overlaps the first. The mix is a ``transition`` of the track tractor with ``kdenlive:mixcut``.
        As Kdenlive loads it (``TrackModel::loadMix``), its clips are the one playing at its ``in`` on
        the first playlist (the second with ``reverse``) and the one playing at its end on the other;
        the mix lasts from the second clip's start to the first clip's end (the two swapped where the one found
        first starts later: Kdenlive 25 writes a reversed video mix as ``a_track`` 1, ``b_track`` 0 and swaps them
        on loading), and its cut lies ``mixcut``
        frames before that end (``TimelineMixManager``: cut = first clip's end - mix cut position). As
        for every transition, the clips then meet at the cut: the first ends there, the second starts
        there with its source in moved on by as much, and both get the mix's length."""
        if len(by_playlist) != 2:
            return
        for tr in track.iterchildren("transition"):
            cut_text = self.prop(tr, "kdenlive:mixcut")
            if cut_text is None:
                continue
            twhere = f"{where}, mix {tr.get('id')}"
            m_in, m_out = self.frames(tr.get("in"), twhere), self.frames(tr.get("out"), twhere)
            mixcut = count(cut_text)
            if m_in is None or m_out is None or mixcut is None:
                continue
            # The mix's last frame: its out is the first clip's end, which a clip that ends there with it
            # (a mix over a whole clip) does not play; a writer that counts out inclusively gives the same.
            start, last = self.secs(m_in), self.secs(max(m_in, m_out - 1))
            lower = 1 if self.prop(tr, "reverse") == "1" else 0
            a, b = _playing(by_playlist[lower], start), _playing(by_playlist[1 - lower], last)
            if a is None or b is None:  # Kdenlive retries with the playlists swapped
                a, b = _playing(by_playlist[1 - lower], start), _playing(by_playlist[lower], last)
            if a is not None and b is not None and a.start > b.start:
                a, b = b, a  # Kdenlive 25 writes a video mix's direction in its tracks (a_track 1): it swaps the clips
            if a is None or b is None or a.start > b.start or a.end > b.end or b.start >= a.end:
                continue  # no mix Kdenlive would load: the clips are left as they are
            self.mixed.setdefault(id(b), round(b.start * self.rate))  # Kdenlive's groups name a clip by its position
            length = a.end - b.start
            cut = a.end - min(self.secs(mixcut), length)
            a.source_out -= a.end - cut
            a.end, a.transition_out = cut, length
            b.source_in += cut - b.start
            b.start, b.transition_in = cut, length


def _playing(clips: list[Clip], t: Fraction) -> Clip | None:
    """The clip of one playlist (clips in time order, none overlapping) that plays at time ``t``, None
    between clips; by bisection, as a long track has hundreds of mixes."""
    i = bisect_right(clips, t, key=_start) - 1
    return clips[i] if i >= 0 and t < clips[i].end else None
