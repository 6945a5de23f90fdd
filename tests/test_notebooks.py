"""solutions -> labs: the conventions, their error messages, and that labs/ is current and runs."""

import shutil
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from bwkit.kit import notebooks
from bwkit.kit.execute import check_lab

ROOT = Path(__file__).resolve().parents[1]


def _ex(ex="01.1", body="    return 42\n", points=2):
    sol = new_code_cell("def f():\n    ### BEGIN SOLUTION\n" + body + "    ### END SOLUTION\n",
                        metadata={"bwkit": {"exercise": ex, "role": "solution", "points": points, "title": "answer"}})
    hint = new_markdown_cell("<details><summary>Hint</summary>\n\n42\n</details>",
                             metadata={"bwkit": {"exercise": ex, "role": "hint"}})
    chk = new_code_cell("from bwkit.kit.checks import check\ncheck(f(), 42, name='answer')",
                        metadata={"bwkit": {"exercise": ex, "role": "check"}})
    return [sol, hint, chk]


def _nb(cells):
    nb = new_notebook(cells=cells)
    for i, c in enumerate(nb.cells):
        c.id = f"c{i}"
    return nb


def test_lab_stub_keeps_indentation_and_names_exercise():
    nb = _nb([new_code_cell("x = 1")] + _ex())
    lab = notebooks.lab_from_solution(nb)
    src = lab.cells[1].source
    assert "return 42" not in src and "BEGIN SOLUTION" not in src
    assert '    raise NotImplementedError("Exercise 01.1 (answer): write your code here")' in src
    assert src.startswith("def f():\n")
    assert lab.cells[1].id == "c1" and lab.cells[1].metadata["bwkit"]["exercise"] == "01.1"
    assert all(not c.get("outputs") for c in lab.cells if c.cell_type == "code")
    assert nb.cells[1].source.count("return 42") == 1  # the solution object is untouched


def test_markdown_answers_are_replaced():
    cells = _ex()
    cells.insert(1, new_markdown_cell("Why?\n<!-- ### BEGIN SOLUTION -->\nBecause.\n<!-- ### END SOLUTION -->",
                                      metadata={"bwkit": {"exercise": "01.1", "role": "solution"}}))
    lab = notebooks.lab_from_solution(_nb(cells))
    assert lab.cells[1].source == "Why?\n*Your answer here.*"


def test_exercises_listing():
    exs = notebooks.exercises(_nb(_ex("01.1") + _ex("01.2", points=3)))
    assert [(e.id, e.points, e.check_cell) for e in exs] == [("01.1", 2.0, "c2"), ("01.2", 3.0, "c5")]


@pytest.mark.parametrize("mutate,err", [
    (lambda c: setattr(c[0], "source", "def f():\n    ### BEGIN SOLUTION\n    return 1\n"), "never closed"),
    (lambda c: setattr(c[0], "source", "def f():\n    return 1\n    ### END SOLUTION\n"), "without a matching"),
    (lambda c: setattr(c[0], "source", "### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION"), "inside an open"),
    (lambda c: c.pop(2), "no 'check' cell"),
    (lambda c: c.pop(1), "no 'hint' cell"),
    (lambda c: c[0].metadata["bwkit"].update(points=0), "positive"),
    (lambda c: c[0].metadata["bwkit"].update(role="answer"), "bwkit.role"),
    (lambda c: c[1].update(source="just text"), "<details>"),
    (lambda c: c[0].metadata.pop("bwkit"), "no bwkit exercise metadata"),
])
def test_bad_notebooks_name_notebook_and_cell(mutate, err):
    cells = _ex()
    mutate(cells)
    with pytest.raises(notebooks.LabBuildError, match=err) as e:
        notebooks.lab_from_solution(_nb(cells), "solutions/99_x.ipynb")
    assert "solutions/99_x.ipynb" in str(e.value)


def test_make_labs_and_staleness(tmp_path):
    sol, labs = tmp_path / "solutions", tmp_path / "labs"
    sol.mkdir()
    nbformat.write(_nb(_ex()), sol / "01_x.ipynb")
    assert notebooks.stale_labs(sol, labs) == [f"{labs / '01_x.ipynb'} is missing"]
    assert notebooks.make_labs(sol, labs) == [labs / "01_x.ipynb"]
    assert notebooks.stale_labs(sol, labs) == []
    (labs / "01_x.ipynb").write_text((labs / "01_x.ipynb").read_text().replace("write your code", "edited"))
    assert "differs" in notebooks.stale_labs(sol, labs)[0]
    (labs / "02_orphan.ipynb").write_text("{}")
    assert any("no solution notebook" in p for p in notebooks.stale_labs(sol, labs))
    (sol / "03_broken.ipynb").write_text("{not json")
    with pytest.raises(notebooks.LabBuildError, match="03_broken.ipynb: not a readable notebook"):
        notebooks.make_labs(sol, labs)


def test_cli_make_labs_reports_errors(tmp_path, capsys):
    from bwkit.kit.cli import main

    sol = tmp_path / "s"
    sol.mkdir()
    cells = _ex()
    cells[0].source = "### BEGIN SOLUTION\nx=1\n"
    nbformat.write(_nb(cells), sol / "05_bad.ipynb")
    assert main(["make-labs", "--solutions", str(sol), "--labs", str(tmp_path / "l")]) == 2
    assert "05_bad.ipynb: cell 0" in capsys.readouterr().err


def test_repo_labs_are_current():
    problems = notebooks.stale_labs(ROOT / "solutions", ROOT / "labs")
    assert problems == [], "\n".join(problems) + "\nRun `make labs`."


def test_every_solution_has_a_lab_and_exercises():
    sols = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
    assert sols, "no solution notebooks"
    for s in sols:
        nb = nbformat.read(s, as_version=4)
        assert len(notebooks.exercises(nb, s)) >= 4, f"{s.name}: fewer than 4 exercises"
        first_code = next(c for c in nb.cells if c.cell_type == "code")
        assert "bwkit.setup()" in first_code.source, f"{s.name}: first code cell must call bwkit.setup()"


@pytest.mark.skipif(shutil.which("chromium") is not None or shutil.which("chromium-browser") is not None,
                    reason="tests/test_runall_unsolved.py runs every lab through JupyterLab's Run All instead")
@pytest.mark.parametrize("lab", sorted(p.name for p in (ROOT / "labs").glob("[0-9][0-9]_*.ipynb")))
def test_lab_fails_only_at_exercise_cells(lab):
    problems = check_lab(ROOT / "labs" / lab)
    assert problems == [], "\n".join(problems)


def test_the_kit_paths_are_written_once(tmp_path, monkeypatch):
    """REPO_ROOT, the notebook glob and the ./solutions-else-the-kit's default live in `notebooks`; no kit module
    recomputes them (a copy drifted once: parents[3] vs parents[4])."""
    assert notebooks.REPO_ROOT == ROOT and (notebooks.KIT_LIB / "bwkit" / "kit" / "notebooks.py").is_file()
    assert notebooks.lab_notebooks(ROOT / "solutions") == sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
    (tmp_path / "solutions").mkdir()
    for name in ("00_a.ipynb", "1_b.ipynb", "xx_c.ipynb", "02_d.txt"):
        (tmp_path / "solutions" / name).write_text("{}")
    monkeypatch.chdir(tmp_path)
    assert notebooks.solutions_dir() == Path("solutions")
    assert notebooks.solution_notebooks() == [Path("solutions/00_a.ipynb")]
    assert notebooks.solution_notebooks(ROOT / "labs") == notebooks.lab_notebooks(ROOT / "labs")
    monkeypatch.chdir(tmp_path / "solutions")
    assert notebooks.solutions_dir() == ROOT / "solutions"
    kit = ROOT / "lib" / "bwkit" / "kit"
    for py in sorted(kit.rglob("*.py")):
        text = py.read_text(encoding="utf-8")
        if py.name != "notebooks.py":
            assert '"[0-9][0-9]_*.ipynb"' not in text, f"{py}: use notebooks.lab_notebooks"
        assert ".parents[" not in text or py.name == "notebooks.py", f"{py}: use notebooks.REPO_ROOT / KIT_LIB"


@pytest.mark.parametrize("rel, hidden", [(".git", True), ("a/.ipynb_checkpoints/x.ipynb", True),
                                         ("__pycache__", True), ("sub/__pycache__/m.pyc", True),
                                         ("00_x.ipynb", False), ("data/w.npz", False), ("", False)])
def test_is_hidden(rel, hidden):
    assert notebooks.is_hidden(rel) is hidden
    assert notebooks.is_hidden(Path(rel)) is hidden


def test_make_labs_refuses_a_missing_or_empty_solutions_folder(tmp_path, monkeypatch, capsys):
    """No solutions folder, or one without NN_*.ipynb, is an error for make-labs and --check (it once reported
    "labs/ is up to date"); so is a labs path that is a file. Messages carry one 'make-labs:' prefix."""
    from bwkit.kit.cli import main

    with pytest.raises(FileNotFoundError, match="no solutions folder at"):
        notebooks.stale_labs(tmp_path / "nope", tmp_path / "labs")
    (tmp_path / "empty").mkdir()
    for fn in (notebooks.stale_labs, notebooks.make_labs):
        with pytest.raises(notebooks.LabBuildError, match=r"no solution notebooks \(\[0-9\]\[0-9\]_\*\.ipynb\) in"):
            fn(tmp_path / "empty", tmp_path / "labs")
    assert not (tmp_path / "labs").exists()
    sol = tmp_path / "solutions"
    sol.mkdir()
    nbformat.write(_nb(_ex()), sol / "01_x.ipynb")
    (tmp_path / "afile").write_text("x")
    with pytest.raises(NotADirectoryError, match="afile is not a folder"):
        notebooks.make_labs(sol, tmp_path / "afile")
    monkeypatch.chdir(tmp_path / "empty")
    assert main(["make-labs", "--check"]) == 2
    assert capsys.readouterr().err == "make-labs: no solutions folder at solutions\n"
    assert main(["make-labs", "--check", "--solutions", str(tmp_path / "empty")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("make-labs: no solution notebooks") and err.count("make-labs:") == 1
    assert main(["make-labs", "--solutions", str(sol), "--labs", str(tmp_path / "afile")]) == 2
    assert capsys.readouterr().err == f"make-labs: {tmp_path / 'afile'} is not a folder (the labs are written there)\n"
    assert main(["make-labs", "--check", "--solutions", str(sol), "--labs", str(tmp_path / "l")]) == 1  # stale: 1


# Run the GPU branches of the cells tagged bwkit-hw (never executed on the CPU CI) on simulated GPUs: torch.cuda
# reports the GPU, bwkit.setup() decides the path as it would there, and every call that would launch CUDA work is
# a recorder. Prints one JSON object: setup's output, the Runtime, and per cell its output and the recorded calls.
_SIM = r'''
import ast, contextlib, io, json, os, sys, types
spec = json.loads(sys.argv[1])
for k in ("BWKIT_FORCE_CPU", "TRITON_INTERPRET", "CUDA_VISIBLE_DEVICES"):
    os.environ.pop(k, None)
os.environ.update(spec.get("env", {}))
import torch
props = types.SimpleNamespace(name=spec["name"], major=spec["cap"][0], minor=spec["cap"][1],
                              multi_processor_count=spec["sms"], total_memory=int(spec["mem"] * 2**30))
torch.cuda.is_available = lambda: True
torch.cuda.device_count = lambda: 1
torch.cuda.get_device_properties = lambda i=0: props
torch.cuda.get_device_capability = lambda i=0: tuple(spec["cap"])
torch.cuda.get_device_name = lambda i=0: spec["name"]
import bwkit
buf = io.StringIO()
with contextlib.redirect_stdout(buf):
    rt = bwkit.setup(quiet=True)
CALLS = []

class Rec:
    """Stands for a module, a tensor or a result: attributes are recorders, calls are logged."""
    def __init__(self, name): self._n = name
    def __getattr__(self, a): return Rec(f"{self._n}.{a}")
    def __call__(self, *a, **k):
        CALLS.append(self._n)
        return Rec(f"{self._n}()")
    def item(self): return 1e-3
    def __str__(self): return f"<{self._n}>"
    __repr__ = __str__
    def _op(self, *a): return Rec(self._n)
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = __rtruediv__ = __matmul__ = _op

import bwkit.bench
bwkit.bench = Rec("bench")                       # `from bwkit import bench` inside a cell gets the recorder
import nbformat
out = {"setup": buf.getvalue(), "rt": {"kind": rt.kind, "interpreter": rt.interpreter, "can_time": rt.can_time,
                                       "native_plan": getattr(rt, "native_plan", None)}, "cells": {}}
for nb_name, cid, real in spec["cells"]:
    nb = nbformat.read(os.path.join(spec["root"], "solutions", nb_name), 4)
    cell = next(c for c in nb.cells if c.get("id") == cid)
    ns = {"rt": rt, "torch": Rec("torch"), "gemm": Rec("gemm"), "gemm_bench": Rec("gemm_bench"), "F": Rec("F"),
          "sg": Rec("sg"), "eff": Rec("eff"), "bench": Rec("bench"), "TILE": {"BLOCK_M": 128},
          "time": __import__("time")}
    if real:      # run it for real (the interpreter path): the lab's own gemm and its `sweep` helper
        from bwkit import gemm
        ns["gemm"] = gemm
        src23 = next(c for c in nb.cells if c.get("id") == "c023").source
        exec(compile(ast.Module([n for n in ast.parse(src23).body if isinstance(n, ast.FunctionDef)], []),
                     "c023", "exec"), ns)
    CALLS.clear()
    tree = ast.parse(cell.source)
    defs = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    with contextlib.redirect_stdout(io.StringIO()) as cap:
        try:
            exec(compile(ast.Module(defs, []), cid, "exec"), ns)
            for d in defs:                       # the cell's own GPU helpers are recorded, not run
                ns[d.name] = Rec(f"cell.{d.name}")
            exec(compile(ast.Module([n for n in tree.body if n not in defs], []), cid, "exec"), ns)
            err = None
        except Exception as e:
            err = f"{type(e).__name__}: {e}"
    out["cells"][f"{nb_name[:2]}/{cid}"] = {"out": cap.getvalue(), "calls": list(CALLS), "error": err}
print("SIMJSON" + json.dumps(out))
'''

_HW_CELLS = [("01_tensor_cores.ipynb", "c075", False), ("03_triton_gemm.ipynb", "c071", False),
             ("04_block_scaled_gemm.ipynb", "c056", False), ("06_near_peak.ipynb", "c050", False)]
_SWEEP_CELLS = [("03_triton_gemm.ipynb", c, True) for c in ("c024", "c043", "c050", "c059", "c062")]


def _simulate(name, cap, sms, mem, env=None, cells=_HW_CELLS):
    import json
    import os
    import subprocess
    import sys

    spec = {"name": name, "cap": cap, "sms": sms, "mem": mem, "env": env or {}, "cells": cells, "root": str(ROOT)}
    res = subprocess.run([sys.executable, "-c", _SIM, json.dumps(spec)], capture_output=True, text=True,
                         timeout=600, cwd=str(ROOT / "tests"), env={**os.environ, "PYTHONHASHSEED": "0"})
    line = next((ln for ln in res.stdout.splitlines() if ln.startswith("SIMJSON")), None)
    assert line, res.stdout[-2000:] + res.stderr[-3000:]
    return json.loads(line[len("SIMJSON"):])


# (name, capability, SMs, GiB, extra env) -> per cell: a text its output must hold, or the recorded call it makes
_GPUS = {
    "A100": (("NVIDIA A100-SXM4-80GB", (8, 0), 108, 80.0, {}), {
        "01/c075": "NVIDIA A100-SXM4-80GB (sm_80): Triton runs in the interpreter here, so the kernel",
        "03/c071": "NVIDIA A100-SXM4-80GB (sm_80): Triton runs in the interpreter here, so nothing is timed.",
        "04/c056": "NVIDIA A100-SXM4-80GB (sm_80) has no FP8, FP4 or block-scaled Tensor Cores",
        "06/c050": "NVIDIA A100-SXM4-80GB (sm_80): Triton runs in the interpreter here"}),
    "A100 native forced": (("NVIDIA A100-SXM4-80GB", (8, 0), 108, 80.0, {"TRITON_INTERPRET": "0"}), {
        "01/c075": "(sm_80): the kit plans this kernel for sm_90a, sm_100a/sm_103a and sm_120a/sm_121a only",
        "03/c071": "(sm_80): bwkit.gemm has no kernel plan for sm_80",
        "04/c056": "has no FP8, FP4 or block-scaled Tensor Cores",
        "06/c050": "NVIDIA A100-SXM4-80GB (sm_80) is not in bwkit.hw.SPECS"}),
    "L4": (("NVIDIA L4", (8, 9), 58, 23.0, {}), {
        "04/c056": "NVIDIA L4 (sm_89) (Ada) has FP8 Tensor Cores (mma.sync e4m3/e5m2) but no block-scaled"}),
    "H100": (("NVIDIA H100 80GB HBM3", (9, 0), 132, 80.0, {}), {
        "01/c075": ["gemm.matmul_kloop"], "03/c071": ["gemm_bench.run_gpu_sweep"],
        "04/c056": "NVIDIA H100 80GB HBM3 (sm_90a) has no FP4/MX Tensor Cores (wgmma takes FP8, without block",
        "06/c050": ["eff.measure_table"]}),
    "H100 NVL": (("NVIDIA H100 NVL", (9, 0), 132, 93.0, {}), {
        "06/c050": "NVIDIA H100 NVL (sm_90a) is not in bwkit.hw.SPECS: there is no datasheet peak to compare with"}),
    "B200": (("NVIDIA B200", (10, 0), 148, 179.0, {}), {
        "01/c075": ["gemm.matmul_kloop", "bench.time_fn"], "04/c056": ["cell.time_block_scaled"],
        "06/c050": ["eff.measure_table"]}),
    "B200 interpreted": (("NVIDIA B200", (10, 0), 148, 179.0, {"TRITON_INTERPRET": "1"}), {
        "04/c056": "NVIDIA B200 (sm_100a) has tcgen05 block-scaled Tensor Cores, but Triton runs in the interpreter",
        "01/c075": "NVIDIA B200 (sm_100a): Triton runs in the interpreter here"}),
    "B300": (("NVIDIA B300 SXM6 AC", (10, 3), 148, 268.0, {}), {
        "01/c075": ["gemm.matmul_kloop", "bench.time_fn"], "04/c056": ["cell.time_block_scaled"]}),
    "RTX 5090": (("NVIDIA GeForce RTX 5090", (12, 0), 170, 32.0, {}), {
        "01/c075": ["gemm.matmul_kloop"], "03/c071": ["gemm_bench.run_gpu_sweep"],
        "04/c056": "(sm_120a) has block-scaled Tensor Cores, but warp-level ones (mma.sync kind::mxf8f6f4",
        "06/c050": ["eff.measure_table"]}),
    "T4": (("Tesla T4", (7, 5), 40, 15.0, {}), {
        "04/c056": "Tesla T4 (sm_75) has no FP8, FP4 or block-scaled Tensor Cores (mma.sync takes f16/int8/int4 on "
                   "Turing"}),
    "Thor": (("NVIDIA Thor", (11, 0), 20, 128.0, {}), {
        "04/c056": "NVIDIA Thor (sm_110a) has no block-scaled kernel plan in the kit"}),
}


@pytest.mark.parametrize("gpu", list(_GPUS))
def test_hw_cells_take_the_right_branch_on_simulated_gpus(gpu):
    """The bwkit-hw cells of labs 01/03/04/06 on simulated GPUs: each takes the branch its GPU calls for, raises
    nothing (no NameError in a branch CI never runs), and says one true thing. Lab 06 measures only a GPU that
    bwkit.hw has a peak for (measure_table raises for any other); lab 01 runs the GEMM on an RTX 5090 (its arch is
    'sm_120a', its kind 'sm_120'); lab 04 no longer tells an RTX 5090 or an A100 that it has bf16 wgmma."""
    from bwkit import hw

    (name, cap, sms, mem, env), want = _GPUS[gpu]
    got = _simulate(name, cap, sms, mem, env)
    for key, cell in got["cells"].items():
        assert cell["error"] is None, f"{gpu} {key}: {cell['error']}"
    assert "bf16 wgmma" not in got["cells"]["04/c056"]["out"] or cap[0] == 9, got["cells"]["04/c056"]["out"]
    for key, expect in want.items():
        cell = got["cells"][key]
        if isinstance(expect, list):
            assert [c for c in cell["calls"] if c in expect] == expect, (gpu, key, cell)
        else:
            assert expect in cell["out"], (gpu, key, cell["out"])
            assert not cell["calls"], (gpu, key, cell["calls"])
    measured = "eff.measure_table" in got["cells"]["06/c050"]["calls"]
    assert measured == (got["rt"]["can_time"] and hw.spec_for_device(name, mem, sms) is not None), gpu
    assert ("No GPU here" in got["cells"]["03/c071"]["out"]) is False


def test_lab03_sweeps_run_in_the_interpreter_on_a_gpu_without_a_plan():
    """An A100 (sm_80) has no bwkit.gemm plan: bwkit.setup() switches the interpreter on, says why in one line, and
    lab 03's correctness sweeps then run (they raised "bwkit.gemm has no kernel plan for (8, 0)")."""
    got = _simulate("NVIDIA A100-SXM4-80GB", (8, 0), 108, 80.0, cells=_SWEEP_CELLS)
    assert got["rt"] == {"kind": "other", "interpreter": True, "can_time": False, "native_plan": None}
    assert got["setup"] == ("bwkit.setup(): NVIDIA A100-SXM4-80GB is sm_80, and the kit's Triton kernels are planned "
                            "for sm_90a, sm_100a/sm_103a and sm_120a/sm_121a only: Triton interpreter switched on "
                            "(set TRITON_INTERPRET=0 before setup() to compile natively anyway).\n")
    for key, cell in got["cells"].items():
        assert cell["error"] is None, f"{key}: {cell['error']}"
        lines = cell["out"].splitlines()
        assert lines and all(ln.startswith("✅") for ln in lines), (key, cell["out"])
