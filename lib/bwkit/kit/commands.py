"""What the instructor subcommands (`bwkit hub`, `bwkit nbgrader`, `bwkit slides`) share.

`reports(prefix, *errors)` wraps a subcommand: an error of those types prints ``prefix: message`` on stderr and
exits 2. `install_once` runs a versioned install (an npm package, a venv) once: a stamp file names the version, a
lock file keeps several processes from installing at once. Taught nowhere: the instructor's tools.
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable
from pathlib import Path

__all__ = ["reports", "install_once"]


def reports(prefix: str, *errors: type[Exception]) -> Callable:
    """Decorate a subcommand `f(args) -> int`: an exception of `errors` prints ``prefix: message`` on stderr and
    returns 2 (the exit status of a bad input); anything else propagates."""

    def wrap(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
        @functools.wraps(command)
        def run(args: argparse.Namespace) -> int:
            try:
                return command(args)
            except errors as e:
                print(f"{prefix}: {e}", file=sys.stderr)
                return 2

        return run

    return wrap


def install_once(exe: Path, stamp: Path, lock: Path, install: Callable[[], None]) -> Path:
    """Return `exe`, first running `install()` unless `exe` and the version `stamp` both exist.

    The install runs under an exclusive lock on the file `lock` (the check is repeated once it is held, so
    concurrent callers install once); after it, older stamps (``stamp``'s name up to its last '-', any version)
    are removed and `stamp` is created. `install` raises to fail (nothing is stamped then).
    """
    import fcntl  # POSIX only: imported here so that `reports` works everywhere

    if exe.exists() and stamp.exists():
        return exe
    with open(lock, "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        if not (exe.exists() and stamp.exists()):
            install()
            for old in stamp.parent.glob(stamp.name.rsplit("-", 1)[0] + "-*"):
                old.unlink()
            stamp.touch()
    return exe
