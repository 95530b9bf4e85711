"""Every real export the reader tests walk: ../shared/corpus/realworld and ../shared/corpus/production.

Two production files are not timelines (see that corpus' SOURCES.md): an event export with no
project, and a file that is not well-formed XML. They are listed, not silently skipped, and
``test_reader_json.py`` checks that they fail with a TimelineError.
"""

from __future__ import annotations

from tests.conftest import REALWORLD

PRODUCTION = REALWORLD.parent / "production"
NOT_TIMELINES = frozenset(("xmeml__New_Event_2.06.13.fcpxml", "xmeml__Selvika_1._juni_2013.fcpxml"))
ALL_FILES = sorted(p for d in (REALWORLD, PRODUCTION) if d.is_dir() for p in d.glob("*/*") if p.suffix != ".md")
TIMELINE_FILES = [p for p in ALL_FILES if p.name not in NOT_TIMELINES]
