"""Train/validation split by file, or by programme where files are versions of one edit.

Real corpora hold versions of one edit (``tomat master v4`` with and without gain; ``Fade inn`` and
``Fade ut``; ``DNPR63700211 Helt program`` and ``Spor i snø`` in one corpus and
``dnpr6370211-alt-offline`` in the other): split by file, the validation set would hold copies of
training timelines and flatter the model. A programme is a connected group of files where

- two files share their media: of the smaller file's distinct clip names, at least
  ``OVERLAP`` are also in the other (versions and cut-downs of one edit; episodes of a series that
  share only a title sequence stay apart; a file of fewer than MIN_LINK_CLIPS names links only to
  files of at most SMALL_FILE_CLIPS), or
- their names differ only by a trailing number (``henrik2``, ``henrik3``; ``Moser_1``, ``Moser_2``).

Each file's programme is named by its smallest member, and ``core.data.preprocess.split_of`` of that
name decides the split, so a programme is wholly in train or wholly in validation.
"""

from __future__ import annotations

import os
import re

OVERLAP = 0.5
MIN_LINK_CLIPS = 3
SMALL_FILE_CLIPS = 10
SIGNATURE_SEP = "\n"
_TRAILING_NUMBER = re.compile(r"[\W_]*\d+$")
_DIALECT_PREFIX = re.compile(r"^(xmeml|fcpxml|mlt)__")


def signature(timelines) -> str:
    """The file's distinct clip names (lower case), one per line: what versions of one edit share."""
    names = {c.name.strip().lower() for tl in timelines for _, c in tl.iter_clips() if c.name and c.name.strip()}
    return SIGNATURE_SEP.join(sorted(names))


def name_stem(name: str) -> str:
    """The file's base name without extension, dialect prefix and trailing number ('' when too short)."""
    stem = os.path.splitext(os.path.basename(name))[0].lower()
    stem = _TRAILING_NUMBER.sub("", _DIALECT_PREFIX.sub("", stem))
    return stem if len(stem) >= 4 else ""


def programmes(signatures: dict[str, str]) -> dict[str, str]:
    """{file name: its programme's name (the smallest file name of its group)} from ``signature`` strings."""
    names = sorted(signatures)
    parent = {n: n for n in names}

    def find(n: str) -> str:
        while parent[n] != n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    def union(a: str, b: str) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    sets = {n: set(filter(None, signatures[n].split(SIGNATURE_SEP))) for n in names}
    by_clip: dict[str, list[str]] = {}
    for n in names:
        for c in sets[n]:
            by_clip.setdefault(c, []).append(n)
    shared: dict[tuple[str, str], int] = {}
    for members in by_clip.values():
        for i, a in enumerate(members):
            for b in members[i + 1 :]:
                shared[(a, b)] = shared.get((a, b), 0) + 1
    for (a, b), n in shared.items():
        small, large = sorted((len(sets[a]), len(sets[b])))
        # a file of one or two clips links only to other small files: a lone end board shared with two
        # large programmes must not chain them into one
        if n >= OVERLAP * small and (small >= MIN_LINK_CLIPS or large <= SMALL_FILE_CLIPS):
            union(a, b)
    by_stem: dict[str, str] = {}
    for n in names:
        stem = name_stem(n)
        if stem:
            if stem in by_stem:
                union(by_stem[stem], n)
            else:
                by_stem[stem] = n
    return {n: find(n) for n in names}


__all__ = ["OVERLAP", "signature", "name_stem", "programmes"]
