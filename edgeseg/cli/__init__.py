"""The ``edgeseg`` command line: one thin file per command.

Each command parses options, builds a config, calls one library function and maps errors to
exit codes: an :class:`EdgesegError` prints one line and exits 2; ``--debug`` shows tracebacks.
"""

from __future__ import annotations

import sys

from edgeseg.cli.app import app
from edgeseg.cli import bench as _bench  # noqa: F401  (registers commands)
from edgeseg.cli import camera as _camera  # noqa: F401
from edgeseg.cli import data as _data  # noqa: F401
from edgeseg.cli import demo as _demo  # noqa: F401
from edgeseg.cli import evaluate as _evaluate  # noqa: F401
from edgeseg.cli import export as _export  # noqa: F401
from edgeseg.cli import models as _models  # noqa: F401
from edgeseg.cli import predict as _predict  # noqa: F401
from edgeseg.cli import prune as _prune  # noqa: F401
from edgeseg.cli import serve_web as _serve_web  # noqa: F401
from edgeseg.cli import train as _train  # noqa: F401

__all__ = ["app", "main"]


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point."""
    try:
        app(args=argv, prog_name="edgeseg", standalone_mode=True)
    except SystemExit as e:
        return int(e.code or 0) if not isinstance(e.code, str) else 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
