"""Finding the inputs of `bwkit grade`: the official lab, the submissions and their notebooks, student ids."""

from __future__ import annotations

from pathlib import Path

import nbformat

from bwkit.kit.grading.model import GradingError, Submission
from bwkit.kit.notebooks import is_hidden, lab_notebooks, solutions_dir

__all__ = ["find_lab", "find_submissions", "read_submission", "open_student_file", "MAX_NOTEBOOK_BYTES"]


def find_lab(lab: str, solutions: str | Path | None = None) -> Path:
    """Return the solution notebook for `lab` ('00', '0', '00_hardware_roofline' or a path to an .ipynb).

    `solutions` defaults to ./solutions when it exists, else the kit's own solutions/ folder.
    Raises `GradingError` listing the labs available.
    """
    if not isinstance(lab, str) or not lab.strip():
        raise GradingError(f"--lab must name a lab such as '00', got {lab!r}")
    lab = lab.strip()
    p = Path(lab)
    if p.suffix == ".ipynb":
        if p.is_file():
            return p
        raise GradingError(f"no solution notebook at {p}")
    solutions = solutions_dir(solutions)
    if not solutions.is_dir():
        raise GradingError(f"no solutions folder at {solutions} (pass --solutions DIR)")
    available = lab_notebooks(solutions)
    key = lab.removesuffix(".ipynb")
    if key.isdigit():
        key = f"{int(key):02d}"
    for path in available:
        if path.stem == key or path.stem.split("_", 1)[0] == key:
            return path
    names = ", ".join(a.stem for a in available) or "none"
    raise GradingError(f"unknown lab {lab!r}: the labs in {solutions} are {names}")


def _regular(p: Path) -> bool:
    """A regular file that is not a symbolic link (links and special files are never read)."""
    return not p.is_symlink() and p.is_file()


def _pick_notebook(folder: Path, lab_stem: str) -> tuple[Path | None, str | None]:
    found = sorted(
        (q for q in folder.rglob("*")
         if _is_notebook_name(q.name) and _regular(q) and not is_hidden(q.relative_to(folder))),
        key=lambda q: (len(q.relative_to(folder).parts), str(q)))
    if not found:
        return None, f"no notebook in {folder.name}/ (expected {lab_stem}.ipynb)"
    exact = [q for q in found if q.stem == lab_stem]
    if exact:
        return exact[0], None
    number = lab_stem.split("_", 1)[0]
    numbered = [q for q in found if q.stem.startswith(number)]
    if len(numbered) == 1:
        return numbered[0], None
    if len(found) == 1:
        return found[0], None
    names = ", ".join(str(q.relative_to(folder)) for q in (numbered or found))
    return None, f"several notebooks in {folder.name}/ ({names}): name the one to grade {lab_stem}.ipynb"


def _is_notebook_name(name: str) -> bool:
    return name.lower().endswith(".ipynb")        # bob.IPYNB is a notebook too


def _bare_stem(name: str) -> str:
    """The name without its extensions: carol_00_x.ipynb.json -> carol_00_x, dave.zip -> dave."""
    stem = name
    while "." in stem.strip("."):
        head, _, ext = stem.rpartition(".")
        if not head or len(ext) > 5 or not ext.isalnum():
            break
        stem = head
    return stem


def looks_like_grades(folder: Path) -> bool:
    """True for a folder `bwkit grade` wrote (grades.csv, summary.md, feedback/): never a student."""
    return (folder / "grades.csv").is_file() and (folder / "summary.md").is_file() and (folder / "feedback").is_dir()


def _student_from_file(stem: str, lab_stem: str) -> str:
    if stem.endswith(lab_stem) and stem != lab_stem:
        return stem[: -len(lab_stem)].rstrip("_-. ") or stem
    if "__" in stem:
        return stem.split("__", 1)[0] or stem
    return stem


def find_submissions(root: str | Path, lab_stem: str, *, skip: Path | None = None) -> list[Submission]:
    """List the submissions in `root` (layout in the `bwkit.kit.grading` docstring), sorted by student id.

    Every non-hidden entry gets one: a file that is not a notebook gets a 0-point row saying so, unless a
    notebook gives the same student id (then it is one of that student's ignored files: ``carol.html`` beside
    ``carol.ipynb`` never takes carol's id) or it is the instructor's (``README*``, ``.csv``, ``.md``, ``.txt``,
    ``.tsv``, ``.xlsx``: not a student at all). `skip` (the grading output folder) and any folder that holds a
    previous run's reports are left out. Raises `GradingError` when `root` is not a folder or holds no submission.
    """
    root = Path(root)
    if not root.is_dir():
        raise GradingError(f"submissions folder {root} does not exist or is not a folder")
    skip_real = Path(skip).resolve() if skip is not None else None
    subs: list[Submission] = []
    loose: list[tuple[Submission, str]] = []      # the rows of non-notebook files, with their file names
    for entry in sorted(root.iterdir()):
        if is_hidden(entry.name):
            continue
        if entry.is_symlink():
            who = _student_from_file(_bare_stem(entry.name), lab_stem)
            subs.append(Submission(who, None, f"{entry.name} is a symbolic link: not followed, not graded"))
        elif entry.is_dir() and (entry.resolve() == skip_real or looks_like_grades(entry)):
            continue              # the grading output (e.g. grades-00 written inside the submissions folder)
        elif entry.is_dir():
            path, problem = _pick_notebook(entry, lab_stem)
            ignored = sorted(str(q.relative_to(entry)) + (" (a link: not followed)" if q.is_symlink() else "")
                             for q in entry.rglob("*")
                             if (q.is_file() or q.is_symlink()) and q != path and not is_hidden(q.name))
            subs.append(Submission(entry.name, path, problem, ignored))
        elif _is_notebook_name(entry.name):
            student = _student_from_file(entry.name[: -len(".ipynb")], lab_stem)
            if _regular(entry):
                subs.append(Submission(student, entry))
            else:
                subs.append(Submission(student, None, f"{entry.name} is not a regular file: not graded"))
        elif not _instructor_file(entry.name):
            student = _student_from_file(_bare_stem(entry.name), lab_stem)
            ext = "".join(Path(entry.name).suffixes[-1:]) or "no extension"
            why = (f"{entry.name} is not a notebook ({ext}): not graded" if _regular(entry) else
                   f"{entry.name} is not a regular file: not graded")
            subs.append(Submission(student, None, why))
            loose.append((subs[-1], entry.name))
    graded = {s.student: s for s in subs if s.path is not None}
    for s, name in loose:
        if s.student in graded:           # carol.html beside carol.ipynb: one of carol's files, not a student
            subs.remove(s)
            graded[s.student].ignored.append(f"{name} (beside the notebook: not graded)")
    if not subs:
        raise GradingError(f"no submissions in {root}: expected one folder per student holding {lab_stem}.ipynb, "
                           f"or files named <student>.ipynb / <student>_{lab_stem}.ipynb")
    taken = {s.student for s in subs}
    seen: set[str] = set()
    for s in subs:           # two files for one student: the later gets the first free "-2", "-3", ...
        if s.student in seen:
            n = 2
            while f"{s.student}-{n}" in taken:
                n += 1
            s.student = f"{s.student}-{n}"
            taken.add(s.student)
        seen.add(s.student)
    return sorted(subs, key=lambda s: s.student)


_INSTRUCTOR_SUFFIXES = (".csv", ".md", ".txt", ".tsv", ".xlsx")


def _instructor_file(name: str) -> bool:
    """A file of the instructor's in the submissions folder (a README, a roster, notes): not a student."""
    low = name.lower()
    return low.startswith("readme") or low.endswith(_INSTRUCTOR_SUFFIXES)


MAX_NOTEBOOK_BYTES = 64 * 2**20


def open_student_file(path: str | Path, *, dir_fd: int | None = None):
    """Open a file of a student's for reading (a binary file object); raises `GradingError` saying why not.

    The one rule for reading what students wrote (the grader, `bwkit hub collect`): only a regular file, never
    through a symbolic link (``O_NOFOLLOW``, so a link swapped in after a check is refused too), never a FIFO or
    device, at most `MAX_NOTEBOOK_BYTES`. `dir_fd`: `path` is relative to that open folder.
    """
    import os
    import stat

    name = Path(path).name
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
    except OSError as e:
        raise GradingError(f"cannot read {name}: {e.strerror or e} (links are not followed)") from e
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise GradingError(f"{name} is not a regular file")
        if st.st_size > MAX_NOTEBOOK_BYTES:
            raise GradingError(f"{name} is {st.st_size / 2**20:.0f} MiB, over the "
                               f"{MAX_NOTEBOOK_BYTES // 2**20} MiB limit")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_submission(path: Path) -> nbformat.NotebookNode:
    """Read a student notebook; raises `GradingError` with a clear message when it is not a readable notebook.

    Only a regular file is read (never through a symbolic link, never a FIFO or device), up to 64 MiB.
    """
    with open_student_file(path) as f:
        raw = f.read(MAX_NOTEBOOK_BYTES + 1)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise GradingError(f"cannot read {Path(path).name}: not UTF-8 text ({e})") from e
    try:
        nb = nbformat.reads(text, as_version=4)
    except Exception as e:  # nbformat raises JSON, validation and version errors
        raise GradingError(f"{Path(path).name} is not a readable notebook ({type(e).__name__}: {e})") from e
    if not isinstance(nb.get("cells"), list):
        raise GradingError(f"{Path(path).name} has no list of cells")
    return nb
