"""Finding the inputs of `bwkit grade`: the official lab, the submissions and their notebooks, student ids."""

from __future__ import annotations

from pathlib import Path

import nbformat

from bwkit.kit.grading.model import GradingError, Submission

__all__ = ["find_lab", "find_submissions", "read_submission"]


def _repo_solutions() -> Path:
    return Path(__file__).resolve().parents[3] / "solutions"


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
    if solutions is None:
        solutions = Path("solutions") if Path("solutions").is_dir() else _repo_solutions()
    solutions = Path(solutions)
    if not solutions.is_dir():
        raise GradingError(f"no solutions folder at {solutions} (pass --solutions DIR)")
    available = sorted(solutions.glob("[0-9][0-9]_*.ipynb"))
    key = lab.removesuffix(".ipynb")
    if key.isdigit():
        key = f"{int(key):02d}"
    for path in available:
        if path.stem == key or path.stem.split("_", 1)[0] == key:
            return path
    names = ", ".join(a.stem for a in available) or "none"
    raise GradingError(f"unknown lab {lab!r}: the labs in {solutions} are {names}")


def _skip(p: Path) -> bool:
    return p.name.startswith(".") or p.name in ("__pycache__", ".ipynb_checkpoints")


def _pick_notebook(folder: Path, lab_stem: str) -> tuple[Path | None, str | None]:
    found = sorted(
        (q for q in folder.rglob("*.ipynb")
         if q.is_file() and not any(_skip(Path(part)) for part in q.relative_to(folder).parts)),
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


def _student_from_file(stem: str, lab_stem: str) -> str:
    if stem.endswith(lab_stem) and stem != lab_stem:
        return stem[: -len(lab_stem)].rstrip("_-. ") or stem
    if "__" in stem:
        return stem.split("__", 1)[0] or stem
    return stem


def find_submissions(root: str | Path, lab_stem: str) -> list[Submission]:
    """List the submissions in `root` (layout in the `bwkit.kit.grading` docstring), sorted by student id.

    Raises `GradingError` when `root` is not a folder or holds no submission.
    """
    root = Path(root)
    if not root.is_dir():
        raise GradingError(f"submissions folder {root} does not exist or is not a folder")
    subs: list[Submission] = []
    for entry in sorted(root.iterdir()):
        if _skip(entry):
            continue
        if entry.is_dir():
            path, problem = _pick_notebook(entry, lab_stem)
            ignored = sorted(str(q.relative_to(entry)) for q in entry.rglob("*")
                             if q.is_file() and q != path and not _skip(q))
            subs.append(Submission(entry.name, path, problem, ignored))
        elif entry.suffix == ".ipynb":
            subs.append(Submission(_student_from_file(entry.stem, lab_stem), entry))
    if not subs:
        raise GradingError(f"no submissions in {root}: expected one folder per student holding {lab_stem}.ipynb, "
                           f"or files named <student>.ipynb / <student>_{lab_stem}.ipynb")
    seen: dict[str, int] = {}
    for s in subs:
        n = seen.get(s.student, 0) + 1
        seen[s.student] = n
        if n > 1:
            s.student = f"{s.student}-{n}"
    return sorted(subs, key=lambda s: s.student)


def read_submission(path: Path) -> nbformat.NotebookNode:
    """Read a student notebook; raises `GradingError` with a clear message when it is not a readable notebook."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise GradingError(f"cannot read {Path(path).name}: {e}") from e
    try:
        nb = nbformat.reads(text, as_version=4)
    except Exception as e:  # nbformat raises JSON, validation and version errors
        raise GradingError(f"{Path(path).name} is not a readable notebook ({type(e).__name__}: {e})") from e
    if not isinstance(nb.get("cells"), list):
        raise GradingError(f"{Path(path).name} has no list of cells")
    return nb
