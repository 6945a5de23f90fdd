"""What the instructor subcommands (`bwkit hub`, `bwkit nbgrader`, `bwkit grade`, `bwkit slides`) share.

`reports(prefix, *errors)` wraps a subcommand: an error of those types prints ``prefix: message`` on stderr and
exits 2. `install_once` runs a versioned install (an npm package, a venv) once: a stamp file names the version, a
lock file keeps several processes from installing at once. `add_command` adds a subcommand bound to the function
it runs; `add_install_command` is the subcommand that runs such an install (``bwkit hub install-proxy``,
``bwkit nbgrader env``). The options several subcommands take are declared here once, with their help:
`add_lab_option` (``--lab``), `add_solutions_option` (``--solutions``) and `add_force_option` (``--force``).
Taught nowhere: the instructor's tools.
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["reports", "install_once", "add_command", "add_install_command", "add_lab_option", "add_solutions_option",
           "add_force_option"]


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


def add_command(subparsers: argparse._SubParsersAction, name: str, run: Callable[[argparse.Namespace], int],
                **parser_options: Any) -> argparse.ArgumentParser:
    """Add the subcommand `name` that runs ``run(args)`` (its exit status) and return its parser, for the
    subcommand's own options; `parser_options` (help, description, ...) go to `add_parser`."""
    parser = subparsers.add_parser(name, **parser_options)
    parser.set_defaults(func=run)
    return parser


def add_install_command(subparsers: argparse._SubParsersAction, name: str, option: str, install: Callable[..., Path],
                        report: Callable, *, help: str, where: str) -> argparse.ArgumentParser:
    """Add the subcommand `name` that runs ``install(location, quiet=False)`` and prints the path it returns.

    `option` (``--prefix``, ``--path``) gives the install location, default None (`install`'s own default, which
    `where` describes for the option's help);
    `report` is the command family's `reports(...)` decorator, so a failed install prints its message and exits 2.
    """
    location = option.lstrip("-").replace("-", "_")  # the attribute of `args`, as argparse names it

    @report
    def run(args: argparse.Namespace) -> int:
        print(install(getattr(args, location), quiet=False))
        return 0

    parser = add_command(subparsers, name, run, help=help)
    parser.add_argument(option, default=None, dest=location, help=f"install location (default: {where})")
    return parser


def add_lab_option(parser: argparse.ArgumentParser, *, repeatable: bool = False) -> None:
    """``--lab``: one lab, required (``args.lab`` a str), or with `repeatable` any number of them (``args.lab`` a
    list; None: every lab). A lab is given by its number or its name (`bwkit.kit.grading.discovery.find_lab`)."""
    if repeatable:
        parser.add_argument("--lab", action="append", default=None,
                            help="lab number or name, repeatable (default: all)")
    else:
        parser.add_argument("--lab", required=True, help="lab number or name, e.g. 00 or 00_hardware_roofline")


def add_solutions_option(parser: argparse.ArgumentParser) -> None:
    """``--solutions DIR``: the folder of solution notebooks (``args.solutions``; None: the kit's solutions/)."""
    parser.add_argument("--solutions", default=None, help="folder of solution notebooks (default: ./solutions if "
                        "the working folder has one, else the kit's solutions/)")


def add_force_option(parser: argparse.ArgumentParser, help: str) -> None:
    """``--force`` (``args.force``, False unless given); `help` says what it allows in this subcommand."""
    parser.add_argument("--force", action="store_true", help=help)
