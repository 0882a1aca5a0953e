"""One writer per folder: an exclusive ``flock`` on ``FOLDER/.lock`` holding the writer's PID.

Training, resuming, pruning, QAT and exporting into a run all write to its folder; two of them
at once would interleave epochs and checkpoints. The lock is released by the kernel when its
process ends however it ends (a kill included), so a stale lock file never blocks anyone; the
PID inside only names the holder in the error. Re-entrant within one process (export calls QAT
calls the training loop).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from edgeseg.errors import RunError

LOCK_FILE = ".lock"
_held: dict[Path, list[int]] = {}  # folder -> [fd, depth]


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike, what: str = "run") -> Iterator[None]:
    """Hold the exclusive lock of ``folder`` for the body.

    Raises:
        RunError: another process holds it (its PID is named), or the lock file cannot be made.
    """
    key = Path(folder).resolve()
    if key in _held:
        _held[key][1] += 1
        try:
            yield
        finally:
            _held[key][1] -= 1
        return
    path = key / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        from edgeseg.io import write_error

        raise write_error(path, e) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise RunError(f"{key}: another edgeseg process (PID {holder}) is writing to this {what}; "
                       "wait for it to finish or stop it, then retry") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    _held[key] = [fd, 1]
    try:
        yield
    finally:
        del _held[key]
        os.close(fd)  # closing the last descriptor releases the flock
