"""The `bwkit` command: doctor, make-labs, execute (more subcommands are added by later modules).

    bwkit doctor                 # versions, GPU, and the path each lab takes here
    bwkit make-labs [--check]    # solutions/ -> labs/ (or only report staleness)
    bwkit execute NOTEBOOK...    # re-execute solution notebooks in place (CPU path, seeded)
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from importlib import metadata as md
from pathlib import Path

__all__ = ["main", "doctor_report"]

PACKAGES = ("torch", "triton", "nvidia-cutlass-dsl", "numpy", "matplotlib", "jupyterlab", "nbval", "ml_dtypes")


def _version(pkg: str) -> str:
    try:
        return md.version(pkg)
    except md.PackageNotFoundError:
        return "not installed"


def doctor_report() -> str:
    """The text `bwkit doctor` prints: versions, GPU facts and each lab's path on this machine."""
    from bwkit.kit import catalog, runtime

    lines = ["Blackwell Lab Kit doctor", "", f"Python      {platform.python_version()} ({platform.platform()})"]
    for pkg in PACKAGES:
        lines.append(f"{pkg:<11} {_version(pkg)}")
    try:
        rt = runtime.detect()
    except Exception as e:  # a broken CUDA install must not break the doctor
        lines.append(f"GPU         could not query CUDA: {e}")
        rt = None
    lines.append("")
    forced = os.environ.get("BWKIT_FORCE_CPU") == "1"   # runtime.detect() then reports no GPU, whatever is there
    if forced and (rt is None or not rt.has_gpu):
        lines.append("GPU         not queried: BWKIT_FORCE_CPU=1 forces the CPU path, so no GPU is used (unset "
                     "BWKIT_FORCE_CPU to use this machine's GPU, if it has one)")
        kind = "cpu"
    elif rt is None or not rt.has_gpu:
        lines.append("GPU         no GPU (CUDA not available): the CPU path is used")
        kind = "cpu"
    else:
        lines.append(f"GPU         {rt.gpu_name}, compute capability {rt.capability[0]}.{rt.capability[1]} "
                     f"({rt.arch}), {rt.sm_count} SMs, {rt.memory_gib:.0f} GiB")
        kind = rt.kind if rt.kind in catalog.MACHINES else "other"
    if os.environ.get("TRITON_INTERPRET", "0") not in ("", "0"):
        interp = "on"
    elif kind == "cpu":
        interp = "will be switched on by bwkit.setup()"
    elif kind == "other" and os.environ.get("TRITON_INTERPRET") != "0":
        interp = (f"will be switched on by bwkit.setup(): the kit's Triton kernels have no plan for {rt.arch} "
                  "(set TRITON_INTERPRET=0 to compile natively anyway)")
    else:
        interp = "off"
    lines.append(f"Triton interpreter  {interp}")
    lines.append("")
    lines.append(f"Lab paths on this machine ({kind}):")
    rows = catalog.lab_paths(kind, saved_results=_has_saved_results())
    width = max((len(lab.title) for lab, _ in rows), default=0)
    for lab, path in rows:
        lines.append(f"  {lab.number} {lab.title:<{width}}  {path}")
    return "\n".join(lines)


def _has_saved_results() -> bool:
    """Whether `bwkit.efficiency.load_results()` finds saved results here (what lab 06 shows); True when they
    cannot be read (lab 06 then names the broken file)."""
    from bwkit import efficiency as eff

    try:
        return bool(eff.load_results())
    except Exception:  # noqa: BLE001 - a broken results file: lab 06 reports it, the doctor must not break
        return True


def _cmd_doctor(args: argparse.Namespace) -> int:
    print(doctor_report())
    return 0


def _cmd_make_labs(args: argparse.Namespace) -> int:
    from bwkit.kit import notebooks

    try:
        if args.check:
            problems = notebooks.stale_labs(args.solutions, args.labs)
            for p in problems:
                print(p, file=sys.stderr)
            if problems:
                labs, sols = args.labs.rstrip("/") + "/", args.solutions.rstrip("/") + "/"
                print(f"{labs} is stale: run `bwkit make-labs`; it rewrites every lab from its solution, so hand "
                      f"edits to {labs} are lost: make them in {sols}", file=sys.stderr)
                return 1
            print("labs/ is up to date")
            return 0
        for path in notebooks.make_labs(args.solutions, args.labs):
            print(f"wrote {path}")
    except (notebooks.LabBuildError, OSError) as e:   # OSError: a missing folder, a file where a folder goes
        print(f"make-labs: {e}", file=sys.stderr)
        return 2
    return 0


def _cmd_execute(args: argparse.Namespace) -> int:
    from bwkit.kit import execute

    try:
        for nb in args.notebooks:    # every path first: a typo in the last one must not cost a run of the others
            execute.readable_notebook(Path(nb))
        for nb in args.notebooks:    # then what each is: a lab must not get outputs stored in it
            execute.solution_notebook(Path(nb))
    except (OSError, execute.NotebookError) as e:
        print(f"execute: {e}", file=sys.stderr)
        return 2
    for i, nb in enumerate(args.notebooks):
        try:
            execute.execute_notebook(Path(nb), timeout=args.timeout)
        except (OSError, execute.NotebookError, execute.ExecutionFailed) as e:
            rest = args.notebooks[i + 1:]
            print(f"execute: {e}" + (f" (not run: {', '.join(rest)})" if rest else ""), file=sys.stderr)
            return 1
        print(f"executed {nb}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `bwkit` console script."""
    p = argparse.ArgumentParser(prog="bwkit", description="Blackwell Lab Kit tools")
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("doctor", help="report versions, the GPU and each lab's path here")
    d.set_defaults(func=_cmd_doctor)
    m = sub.add_parser("make-labs", help="generate labs/ from solutions/")
    m.add_argument("--solutions", default="solutions", help="folder of solution notebooks (default ./solutions)")
    m.add_argument("--labs", default="labs", help="folder the labs are written to (default ./labs)")
    m.add_argument("--check", action="store_true", help="only report whether labs/ is stale")
    m.set_defaults(func=_cmd_make_labs)
    e = sub.add_parser("execute", help="re-execute solution notebooks in place (CPU path, seeded)")
    e.add_argument("notebooks", nargs="+")
    e.add_argument("--timeout", type=int, default=1200, help="per-cell timeout in seconds")
    e.set_defaults(func=_cmd_execute)
    for register in _extensions():
        register(sub)
    args = p.parse_args(argv)
    return args.func(args)


def _extensions():
    """Subcommands contributed by other bwkit modules (each exposes `register_cli(subparsers)`)."""
    import importlib
    import importlib.util

    for name in ("bwkit.kit.grading", "bwkit.gemm_bench", "bwkit.kit.slides", "bwkit.kit.hub", "bwkit.kit.nbgrader"):
        if importlib.util.find_spec(name) is None:
            continue
        reg = getattr(importlib.import_module(name), "register_cli", None)
        if reg is not None:
            yield reg


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
