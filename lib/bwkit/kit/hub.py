"""A class on JupyterHub: seed each user's home with the labs, start the user's server, collect the notebooks.

    bwkit hub install-proxy                      # configurable-http-proxy (npm) into <venv>/node, for one machine
    bwkit hub singleuser [--labs-dir D] [-- ARGS]  # what the hub spawns: seed ~/D, then exec jupyterhub-singleuser
    bwkit hub seed [--dest DIR]                  # copy the labs missing from DIR (never overwrites a file)
    bwkit hub collect --users-root /home --lab 00 --out subs/   # one folder per student, the layout `bwkit grade` reads

The hub configurations live in ``deploy/jupyterhub/``: ``jupyterhub_config.py`` (one machine: PAM users and
LocalProcessSpawner, or a loopback-only trial with the dummy authenticator), ``z2jh-values.yaml`` and
``Dockerfile`` (Zero to JupyterHub on Kubernetes, GPU profiles for the native path). Seeding runs as the user,
inside the user's server process (or pod), so the copies belong to the user and the hub needs no access to homes.
Taught nowhere: this is the instructor's tool (README, "Deployment: one machine, JupyterHub, or nbgrader").
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from bwkit.kit import commands
from bwkit.kit.commands import install_once, reports
from bwkit.kit.notebooks import REPO_ROOT, is_hidden

__all__ = ["HubError", "CHP_VERSION", "LABS_DIR", "default_labs", "seed_labs", "collect", "Collected",
           "proxy_command", "install_proxy", "register_cli"]

CHP_VERSION = "5.1.0"      # configurable-http-proxy: the last release that runs on Node 18 (Debian 12's nodejs)
LABS_DIR = "blackwell-labs"  # the folder in each user's home that receives the labs


class HubError(ValueError):
    """Bad input for a hub command (a missing folder, an unknown lab); the message says what."""


def default_labs() -> Path:
    """The labs handed to users: ``$BWKIT_LABS`` when set, else the kit's own ``labs/``."""
    return Path(os.environ.get("BWKIT_LABS") or REPO_ROOT / "labs")


def seed_labs(dest: str | Path, source: str | Path | None = None) -> list[Path]:
    """Copy every file of `source` (default `default_labs()`) that `dest` lacks; return the paths copied.

    Never overwrites: a file that exists in `dest` (the user's work) is left as it is. A notebook the user deleted
    comes back, fresh, at the next server start. Hidden files and checkpoints are not copied.

    `source` is the kit's (or the admin's ``$BWKIT_LABS``) and trusted: a link in it is followed, so a shared
    data file may be linked there. The user's side is never written through a link: an existing entry (a link
    included) is kept, and the copy is created with ``O_EXCL``. (`collect` reads users' folders, which are not
    trusted: it never follows a link there.)
    """
    src = Path(source) if source is not None else default_labs()
    if not src.is_dir():
        raise HubError(f"no labs folder at {src} (set BWKIT_LABS or run `bwkit make-labs`)")
    dest = Path(dest).expanduser()
    if dest.exists() and not dest.is_dir():
        raise HubError(f"{dest} is a file, not a folder: the labs are copied into a folder")
    copied = []
    for f in sorted(src.rglob("*")):
        rel = f.relative_to(src)
        if not f.is_file() or is_hidden(rel):
            continue
        target = dest / rel
        if target.exists() or target.is_symlink():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            with open(target, "xb") as out, open(f, "rb") as inp:  # "x": a file created meanwhile is not replaced
                shutil.copyfileobj(inp, out)
        except FileExistsError:
            continue
        copied.append(target)
    return copied


@dataclass(frozen=True)
class Collected:
    """One home folder seen by `collect`: the user, what happened ('copied', 'missing', 'skipped'), the detail."""

    user: str
    status: str
    detail: str


def collect(users_root: str | Path, lab: str, out: str | Path, *, labs_dir: str = LABS_DIR,
            solutions: str | Path | None = None, users: list[str] | None = None,
            force: bool = False) -> list[Collected]:
    """Copy each user's ``<home>/<labs_dir>/<lab>.ipynb`` to ``out/<user>/`` (the layout `bwkit grade` reads).

    A home with the labs folder but without the notebook gets an empty folder, so the grader lists the student
    with 0 points and the reason; a home without the labs folder (never logged in, or not a student) is skipped.
    `users` restricts the collection to those names (the folders of others already in `out` stay as they are).
    `out` must be empty or absent unless `force`; with it, a user's earlier copy goes before the new one comes,
    also for a user whose labs folder has gone since.

    The homes are the students': as in `bwkit grade`, a symbolic link there (the labs folder or the notebook) is
    never followed, and only a regular file is copied (`bwkit.kit.grading.discovery.open_student_file`); such a
    notebook is collected as missing, with the reason.
    """
    from bwkit.kit.grading.discovery import find_lab
    from bwkit.kit.grading.model import GradingError

    root = Path(users_root)
    if not root.is_dir():
        raise HubError(f"--users-root {root} is not a folder")
    try:
        stem = find_lab(lab, solutions).stem
    except GradingError as e:
        raise HubError(str(e)) from e
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise HubError(f"--out {out} exists and is not a folder")
    if out.exists() and any(out.iterdir()) and not force:
        raise HubError(f"{out} is not empty: pass --force to replace the notebooks there, or pick a new folder")
    wanted = set(users) if users else None
    rows: list[Collected] = []
    for home in sorted(root.iterdir()):
        user = home.name
        if user.startswith(".") or not home.is_dir() or (wanted is not None and user not in wanted):
            continue
        labs = home / labs_dir
        name = f"{stem}.ipynb"
        if not labs.is_dir() and not labs.is_symlink():
            try:
                _remove_stale(out / user / name)   # --force: an earlier copy must not be graded as this user's
                if (out / user).is_dir() and not (out / user).is_symlink() and not any((out / user).iterdir()):
                    (out / user).rmdir()           # skipped means no row: an empty folder would grade as 0 points
            except OSError as e:
                raise HubError(f"cannot write {out / user}: {e.strerror or e}") from e
            rows.append(Collected(user, "skipped", f"no {labs_dir}/ folder (never logged in?)"))
            continue
        dst = out / user
        try:
            dst.mkdir(parents=True, exist_ok=True)
            _remove_stale(dst / name)      # --force: a notebook the user deleted since must not be graded
        except OSError as e:
            raise HubError(f"cannot write {dst}: {e.strerror or e}") from e
        if labs.is_symlink() or (labs / name).is_symlink():
            link = labs_dir if labs.is_symlink() else f"{labs_dir}/{name}"
            rows.append(Collected(user, "missing", f"{link} is a symbolic link: not followed, graded as missing"))
        elif not (labs / name).exists():
            rows.append(Collected(user, "missing", f"no {labs_dir}/{name}: graded as missing"))
        else:
            rows.append(_copy_student_notebook(labs, name, dst, user, labs_dir))
    homeless = sorted((wanted or set()) - {r.user for r in rows})
    for name in homeless:
        rows.append(Collected(name, "skipped", f"no home folder {root / name}"))
    if not any(r.status != "skipped" for r in rows):
        if homeless and len(homeless) == len(rows):
            raise HubError(f"no home {', '.join(homeless)} under {root}: nothing to collect")
        raise HubError(f"no user under {root} has a {labs_dir}/ folder: nothing to collect")
    return rows


def _remove_stale(path: Path) -> None:
    """Remove a notebook an earlier `collect` left at `path` (a link is removed, never followed)."""
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)


def _copy_student_notebook(labs: Path, name: str, dst: Path, user: str, labs_dir: str) -> Collected:
    """Copy ``labs/name`` into `dst`, refusing links (also one swapped in after the checks) and special files."""
    from bwkit.kit.grading.discovery import open_student_file
    from bwkit.kit.grading.model import GradingError

    try:
        dir_fd = os.open(labs, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError as e:
        return Collected(user, "missing", f"cannot open {labs_dir}/ ({e.strerror or e}; links are not followed): "
                                          "graded as missing")
    try:
        with open_student_file(name, dir_fd=dir_fd) as src, open(dst / name, "wb") as out:
            shutil.copyfileobj(src, out)
    except GradingError as e:
        return Collected(user, "missing", f"{labs_dir}/{name} not copied ({e}): graded as missing")
    finally:
        os.close(dir_fd)
    return Collected(user, "copied", str(dst / name))


# ------------------------------------------------------------------------------------------------ the proxy


def _proxy_prefix() -> Path:
    return Path(sys.prefix) / "node"


def proxy_command() -> list[str]:
    """The configurable-http-proxy command: ``$BWKIT_HUB_PROXY``, the copy `install_proxy` made, or PATH's."""
    if os.environ.get("BWKIT_HUB_PROXY"):
        return [os.environ["BWKIT_HUB_PROXY"]]
    local = _proxy_prefix() / "node_modules" / ".bin" / "configurable-http-proxy"
    if local.exists():
        return [str(local)]
    found = shutil.which("configurable-http-proxy")
    if found:
        return [found]
    raise HubError("configurable-http-proxy is not installed: run `bwkit hub install-proxy` (needs npm) or "
                   "`npm install -g configurable-http-proxy`")


def install_proxy(prefix: str | Path | None = None, quiet: bool = True) -> Path:
    """Install configurable-http-proxy `CHP_VERSION` from npm into `prefix` (default ``<venv>/node``) unless it is
    there already; return the executable. Safe to call from several processes at once."""
    prefix = Path(prefix) if prefix is not None else _proxy_prefix()
    exe = prefix / "node_modules" / ".bin" / "configurable-http-proxy"
    stamp = prefix / f".installed-chp-{CHP_VERSION}"
    if exe.exists() and stamp.exists():
        return exe
    npm = shutil.which("npm")
    if npm is None:
        raise HubError("installing configurable-http-proxy needs npm (Node.js >= 18): apt-get install nodejs npm")
    prefix.mkdir(parents=True, exist_ok=True)

    def install() -> None:
        cmd = [npm, "install", "--prefix", str(prefix), "--no-audit", "--no-fund", "--no-save", "--loglevel=error",
               f"configurable-http-proxy@{CHP_VERSION}"]
        r = subprocess.run(cmd, capture_output=quiet, text=True)
        if r.returncode != 0 or not exe.exists():
            raise HubError(f"npm could not install configurable-http-proxy@{CHP_VERSION}: {(r.stderr or '')[-1500:]}")

    return install_once(exe, stamp, prefix / ".lock", install)


# --------------------------------------------------------------------------------------------- the user side


def singleuser(labs_dir: str = LABS_DIR, args: list[str] | None = None) -> None:
    """Seed ``~/<labs_dir>`` with the labs, then replace this process with ``jupyterhub-singleuser ARGS``."""
    exe = Path(sys.executable).with_name("jupyterhub-singleuser")
    if not exe.exists():
        found = shutil.which("jupyterhub-singleuser")
        if found is None:
            raise HubError("jupyterhub-singleuser is not installed here: pip install -e '.[hub]'")
        exe = Path(found)
    dest = Path(labs_dir).expanduser()
    if not dest.is_absolute():
        dest = Path.home() / dest
    try:
        copied = seed_labs(dest)
        print(f"bwkit hub: {len(copied)} lab file(s) copied into {dest}", file=sys.stderr, flush=True)
    except (OSError, HubError) as e:  # a broken seed must not keep the user out of their server
        print(f"bwkit hub: could not seed {dest}: {e}", file=sys.stderr, flush=True)
    os.execv(exe, [str(exe), *(args or [])])


# ------------------------------------------------------------------------------------------------------- CLI


def register_cli(subparsers: argparse._SubParsersAction) -> None:
    """Add the `hub` subcommand (install-proxy, singleuser, seed, collect) to the `bwkit` command."""
    p = subparsers.add_parser("hub", help="JupyterHub helpers: seed users' labs, start servers, collect notebooks")
    sub = p.add_subparsers(dest="hub_cmd", required=True)
    s = commands.add_command(sub, "singleuser", _cmd_singleuser,
                             help="seed ~/LABS_DIR, then exec jupyterhub-singleuser (the spawner's cmd)")
    s.add_argument("--labs-dir", default=os.environ.get("BWKIT_HUB_LABS_DIR", LABS_DIR),
                   help=f"folder of the home that receives the labs (default $BWKIT_HUB_LABS_DIR, else {LABS_DIR})")
    s.add_argument("server_args", nargs="*", metavar="-- ARGS", help="passed to jupyterhub-singleuser")
    d = commands.add_command(sub, "seed", _cmd_seed, help="copy the labs missing from DEST (never overwrites)")
    d.add_argument("--dest", default=f"~/{LABS_DIR}", help=f"folder receiving the labs (default ~/{LABS_DIR})")
    d.add_argument("--labs", default=None, help="labs folder to copy from (default: $BWKIT_LABS or the kit's)")
    c = commands.add_command(sub, "collect", _cmd_collect,
                             help="copy every user's lab notebook into OUT/<user>/ for `bwkit grade`")
    c.add_argument("--users-root", required=True, help="the folder holding the users' homes, e.g. /home")
    commands.add_lab_option(c)
    c.add_argument("--out", required=True, help="output folder (one folder per student)")
    c.add_argument("--labs-dir", default=LABS_DIR, help=f"labs folder inside each home (default {LABS_DIR})")
    c.add_argument("--users", default=None, help="comma-separated user names (default: every home)")
    commands.add_solutions_option(c)
    commands.add_force_option(c, "write into a non-empty OUT")
    proxy = f"npm install configurable-http-proxy@{CHP_VERSION} (into --prefix)"
    commands.add_install_command(sub, "install-proxy", "--prefix", install_proxy, reports("hub", HubError),
                                 help=proxy, where="<venv>/node")


@reports("hub", HubError)
def _cmd_singleuser(args: argparse.Namespace) -> int:
    singleuser(args.labs_dir, args.server_args)
    return 0  # pragma: no cover - execv does not return


@reports("hub", HubError, OSError)   # OSError: a folder above DEST is a file, a home that cannot be written
def _cmd_seed(args: argparse.Namespace) -> int:
    copied = seed_labs(args.dest, args.labs)
    print(f"copied {len(copied)} file(s) into {Path(args.dest).expanduser()}")
    return 0


@reports("hub", HubError)
def _cmd_collect(args: argparse.Namespace) -> int:
    users = [u.strip() for u in args.users.split(",") if u.strip()] if args.users else None
    rows = collect(args.users_root, args.lab, args.out, labs_dir=args.labs_dir, solutions=args.solutions,
                   users=users, force=args.force)
    for r in rows:
        print(f"{r.user:<20} {r.status:<8} {r.detail}")
    n = sum(r.status != "skipped" for r in rows)
    print(f"{n} student folder(s) in {args.out}: grade them with `bwkit grade {args.out} --lab {args.lab}`")
    return 0
