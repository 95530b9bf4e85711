"""Fault injection for drills and tests: make a chosen trial (or one worker of it) fail at a chosen epoch.

    XMLAI_FAULT="trial=2,epoch=2,kind=nan"                    # the third trial created (or a trial id)
    XMLAI_FAULT="trial=0,epoch=2,kind=exit,once=/tmp/f0; trial=3,epoch=1,kind=raise,rank=1"

Fields (``;`` separates faults): ``epoch`` (required, 1-based), ``kind``, ``trial`` (0-based index in the
order the search created its trials, or a Tune trial id; omitted: every trial), ``rank`` (a DDP worker;
omitted: every rank), ``once=PATH`` (fire only while PATH does not exist, and create it: the retry after
the fault then runs clean; PATH must be visible to every node).

Kinds strike at the first batch of the epoch, through the loop's own checks where there is one:
``nan`` (the training loss becomes NaN), ``explode`` (the loss is scaled by 1e30 so the gradient norm
overflows), ``raise`` (RuntimeError), ``oom`` (torch.OutOfMemoryError, as a GPU raises it), ``exit``
(the process ends at once with code 17, as when its machine is lost).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

ENV = "XMLAI_FAULT"
KINDS = ("nan", "explode", "raise", "oom", "exit")
EXIT_CODE = 17


class FaultSpecError(ValueError):
    """XMLAI_FAULT (or SearchSettings.fault) cannot be read; the message names the part."""


@dataclass(frozen=True)
class Fault:
    epoch: int
    kind: str
    trial: str | None = None
    rank: int | None = None
    once: str | None = None

    def matches(self, trial_id: str | None, index: int | None, rank: int) -> bool:
        """Whether this fault is meant for the trial (its id and 0-based creation index) at ``rank``."""
        if self.rank is not None and self.rank != rank:
            return False
        if self.trial is None:
            return True
        return self.trial == trial_id or (self.trial.isdigit() and index is not None and int(self.trial) == index)

    def due(self, epoch: int) -> bool:
        """True at the fault's epoch (claiming the ``once`` marker, so only the first run fires)."""
        if epoch != self.epoch:
            return False
        if self.once:
            try:
                Path(self.once).parent.mkdir(parents=True, exist_ok=True)
                with open(self.once, "x"):
                    pass
            except FileExistsError:
                return False
        return True

    def strike(self, loss: torch.Tensor, where: str) -> torch.Tensor:
        """Apply the fault to this batch's loss (or fail right here)."""
        what = f"injected fault {self.kind} ({ENV}) at {where}"
        if self.kind == "nan":
            return loss * float("nan")
        if self.kind == "explode":
            return loss * 1e30
        if self.kind == "raise":
            raise RuntimeError(what)
        if self.kind == "oom":
            raise torch.OutOfMemoryError(f"{what}: CUDA out of memory")
        print(what, file=sys.stderr, flush=True)
        os._exit(EXIT_CODE)  # no cleanup, no exception: as if the machine went away


def parse_faults(text: str | None) -> list[Fault]:
    """``"trial=1,epoch=2,kind=nan; ..."`` -> faults; raises FaultSpecError naming the bad part."""
    faults = []
    for part in (text or "").split(";"):
        part = part.strip()
        if not part:
            continue
        fields: dict[str, str] = {}
        for item in part.split(","):
            key, sep, value = item.partition("=")
            key, value = key.strip(), value.strip()
            if not sep or key not in ("trial", "epoch", "kind", "rank", "once") or not value:
                raise FaultSpecError(
                    f"{ENV}: cannot read {item.strip()!r} in {part!r} "
                    "(expected trial=INDEX|ID, epoch=N, kind=nan|explode|raise|oom|exit, rank=N, once=PATH)"
                )
            fields[key] = value
        if fields.get("kind") not in KINDS:
            raise FaultSpecError(f"{ENV}: kind must be one of {', '.join(KINDS)} in {part!r}")
        if not fields.get("epoch", "").isdigit() or int(fields["epoch"]) < 1:
            raise FaultSpecError(f"{ENV}: epoch must be an integer >= 1 in {part!r}")
        if "rank" in fields and not fields["rank"].isdigit():
            raise FaultSpecError(f"{ENV}: rank must be an integer >= 0 in {part!r}")
        faults.append(
            Fault(
                epoch=int(fields["epoch"]),
                kind=fields["kind"],
                trial=fields.get("trial"),
                rank=int(fields["rank"]) if "rank" in fields else None,
                once=fields.get("once"),
            )
        )
    return faults


def fault_for(text: str | None, trial_id: str | None, index: int | None, rank: int = 0) -> Fault | None:
    """The first fault of ``text`` meant for this trial and rank, or None."""
    return next((f for f in parse_faults(text) if f.matches(trial_id, index, rank)), None)
