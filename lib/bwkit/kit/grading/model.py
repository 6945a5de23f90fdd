"""The data classes of `bwkit grade`: options, submissions, grading copies and results (no logic, no I/O)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from bwkit.kit import notebooks

__all__ = [
    "GradingError",
    "GradeOptions",
    "Submission",
    "GradingCopy",
    "ExerciseResult",
    "StudentResult",
    "ClassReport",
]


class GradingError(ValueError):
    """Bad input for the whole run (unknown lab, missing or empty submissions folder); the message says what."""


# GradeOptions field: (the `bwkit grade` flag that sets it, its unit, the largest sane value)
_LIMITS = {"timeout": ("--timeout", "seconds", 86400.0), "memory_gib": ("--memory-gib", "GiB", 4096.0),
           "cpu_seconds": ("--cpu-limit", "CPU seconds", 10.0**7), "lab_timeout": ("--lab-timeout", "seconds", 86400.0)}


@dataclass(frozen=True)
class GradeOptions:
    """Limits of one student run: per-cell `timeout` (s), `memory_gib` (RLIMIT_AS), `cpu_seconds` (RLIMIT_CPU);
    `sandbox` False runs without isolation (`--no-sandbox`).

    `timeout` is for the cells a student wrote or that run their code (solutions, added cells, checks); the
    lab's own cells (restored from the official notebook: imports, `bwkit.setup()`, plots) get `lab_timeout`,
    or `timeout` if that is longer, so that a short student timeout on a busy grading machine does not stop
    the lab's setup and take every exercise's points with it.
    """

    timeout: float = 120.0
    memory_gib: float = 8.0
    cpu_seconds: float = 600.0
    sandbox: bool = True
    lab_timeout: float = 120.0

    def __post_init__(self):
        for name, (flag, unit, top) in _LIMITS.items():
            v = getattr(self, name)
            # NaN and inf are refused too: a NaN timeout never expires, an infinite memory limit breaks prlimit
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not 0 < v <= top:
                raise ValueError(f"{flag} must be a positive number of {unit}, at most {top:g}, got {v!r}")
        if not isinstance(self.sandbox, bool):
            raise ValueError(f"GradeOptions.sandbox must be True or False, got {self.sandbox!r}")

    def cell_timeout(self, role: str) -> float:
        """The per-cell timeout of a cell with this role ('lab' for the lab's own cells)."""
        return max(self.timeout, self.lab_timeout) if role == "lab" else self.timeout


@dataclass
class Submission:
    """One student: id, the notebook found (or None) and why it cannot be graded (`problem`), ignored files."""

    student: str
    path: Path | None
    problem: str | None = None
    ignored: list[str] = field(default_factory=list)


@dataclass
class GradingCopy:
    """The notebook actually run, the id -> (exercise, role) map, and notes/flags for the feedback."""

    nb: object
    cells: dict[str, tuple[str | None, str]]
    notes: list[str]
    flags: dict[str, list[str]]
    attempted: dict[str, bool]


@dataclass
class ExerciseResult:
    """Score of one exercise: `status` is passed, check failed, error, timeout, crashed, not attempted or not run."""

    id: str
    title: str
    points: float
    max_points: float
    status: str
    detail: str = ""
    flags: list[str] = field(default_factory=list)


@dataclass
class StudentResult:
    """One row of grades.csv plus what goes into the student's feedback file."""

    student: str
    notebook: str | None
    exercises: list[ExerciseResult]
    notes: list[str]
    seconds: float = 0.0
    runs: int = 0

    @property
    def total(self) -> float:
        """Points scored over all exercises."""
        return sum(e.points for e in self.exercises)


@dataclass
class ClassReport:
    """Everything `grade` produced: the lab, its exercises, one result per student, and the output folder."""

    lab: str
    exercises: list[notebooks.Exercise]
    students: list[StudentResult]
    out: Path | None
    seconds: float = 0.0
    isolation: str = ""

    @property
    def max_points(self) -> float:
        """Points available in the lab."""
        return sum(e.points for e in self.exercises)
