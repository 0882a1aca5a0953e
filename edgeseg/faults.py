"""Deterministic fault injection for the crash-safety tests.

Every write boundary of training and export calls :func:`fault_point` with its name. With
``EDGESEG_FAULT_AT=NAME`` (or ``NAME@K``: the K-th time it is reached) the process ends right
there with ``os._exit`` — no ``finally``, no ``atexit``, nothing flushed: what a kill or a power
cut leaves. ``EDGESEG_FAULT_TRACE=FILE`` appends the name of every boundary reached to FILE, so
a test learns the boundaries from an uninterrupted run instead of a list kept by hand. Unset (the
normal case), a boundary costs one dictionary lookup.
"""

from __future__ import annotations

import os
from collections import Counter

FAULT_EXIT = 86  # the exit status of an injected fault (a test tells it from a crash)
_reached: Counter[str] = Counter()


def fault_point(name: str) -> None:
    """A write boundary: end the process here if ``EDGESEG_FAULT_AT`` names it (see module doc)."""
    at, trace = os.environ.get("EDGESEG_FAULT_AT"), os.environ.get("EDGESEG_FAULT_TRACE")
    if not at and not trace:
        return
    _reached[name] += 1
    if trace:
        with open(trace, "a") as f:
            f.write(f"{name}@{_reached[name]}\n")
    if at:
        target, _, nth = at.partition("@")
        if target == name and _reached[name] == int(nth or 1):
            os._exit(FAULT_EXIT)
