"""The `bwkit` command on bad input: one line on stderr naming the problem and exit status 2, never a traceback;
and `bwkit bench gemm`'s options, checked before anything runs, on the CPU and on a simulated GPU; and the
reference of `benchmarks/bench_formats.py`."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bwkit import gemm_bench
from bwkit.kit.cli import main

ROOT = Path(__file__).resolve().parents[1]


def _one_line_error(capsys, prefix: str) -> str:
    cap = capsys.readouterr()
    assert cap.err.count("\n") == 1 and "Traceback" not in cap.err, cap.err
    assert cap.err.startswith(prefix + ": ") and not cap.err.startswith(f"{prefix}: {prefix}:"), cap.err
    return cap.err.strip()


def test_execute_bad_paths(tmp_path, capsys):
    """`bwkit execute` on a missing file, a folder or a file that is not a notebook: rc 2, one line, and nothing
    runs (a good notebook given first is not executed either: every path is checked first)."""
    assert main(["execute", str(tmp_path / "missing.ipynb")]) == 2
    assert _one_line_error(capsys, "execute") == f"execute: no notebook at {tmp_path / 'missing.ipynb'}"
    assert main(["execute", str(tmp_path)]) == 2
    assert _one_line_error(capsys, "execute").endswith("(it is a folder)")
    bad = tmp_path / "notjson.ipynb"
    bad.write_text("not json\n")
    good = tmp_path / "00_ok.ipynb"
    good.write_text(json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    before = good.read_text()
    assert main(["execute", str(good), str(bad)]) == 2
    err = _one_line_error(capsys, "execute")
    assert err.startswith(f"execute: {bad} is not a readable notebook (NotJSONError: ") and good.read_text() == before


def test_hub_seed_into_a_file(tmp_path, capsys):
    labs = tmp_path / "labs"
    labs.mkdir()
    (labs / "00_x.ipynb").write_text("{}")
    afile = tmp_path / "afile"
    afile.write_text("mine")
    assert main(["hub", "seed", "--dest", str(afile), "--labs", str(labs)]) == 2
    assert _one_line_error(capsys, "hub") == f"hub: {afile} is a file, not a folder: the labs are copied into a folder"
    assert main(["hub", "seed", "--dest", str(afile / "sub"), "--labs", str(labs)]) == 2   # below a file
    assert "Not a directory" in _one_line_error(capsys, "hub")
    assert afile.read_text() == "mine"
    assert main(["hub", "seed", "--dest", str(tmp_path / "home"), "--labs", str(labs)]) == 0
    assert (tmp_path / "home" / "00_x.ipynb").read_text() == "{}"


def test_make_labs_into_a_file(tmp_path, capsys):
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert main(["make-labs", "--solutions", str(ROOT / "solutions"), "--labs", str(afile)]) == 2
    assert _one_line_error(capsys, "make-labs") == f"make-labs: {afile} is not a folder (the labs are written there)"
    assert afile.read_text() == "x"


@pytest.mark.parametrize("argv, why", [
    (["--sizes", "abc"], "--sizes takes comma-separated positive integers (M = N = K), e.g. 1024,4096; got 'abc'"),
    (["--sizes", "-5"], "--sizes takes comma-separated positive integers (M = N = K), e.g. 1024,4096; got '-5'"),
    (["--sizes", "1024,,2048"], "got '1024,,2048'"),
    (["--sizes", "0"], "got '0'"),
    (["--sizes", "²"], "got '²'"),                 # str.isdigit() is True for it, int() is not
    (["--steps", "nosuch"], "--steps: unknown or untimed step(s) ['nosuch']; choose from kloop, grouped, autotuned, "
                            "persistent_tma, ws"),
    (["--steps", "naive"], "'naive' cannot be timed: it loads all of K at once, K <= 256"),
    (["--steps", ","], "--steps: unknown or untimed step(s) [',']"),
    (["--out", str(ROOT / "results" / "gemm.json")], "not in the kit's results/ folder (lab 06 reads every JSON"),
])
def test_bench_gemm_refuses_bad_options_before_running(argv, why, tmp_path, capsys, monkeypatch):
    """Bad --sizes/--steps/--out: rc 2 and one line, before any sweep (they were ignored on the CPU and crashed
    with a traceback on a GPU); results/ is refused as --out (lab 06 loads every *.json there)."""
    def never():
        raise AssertionError("a sweep ran")

    monkeypatch.setattr(gemm_bench, "run_cpu_sweep", never)
    if "--out" not in argv:
        argv = [*argv, "--out", str(tmp_path / "g.json")]
    assert main(["bench", "gemm", *argv]) == 2
    assert why in _one_line_error(capsys, "bench gemm")
    assert not (tmp_path / "g.json").exists()


def test_bench_gemm_default_out_is_not_in_results(tmp_path, capsys, monkeypatch):
    """The default --out is ./gemm-bench.json: results/gemm.json (the old default) broke lab 06's load_results. On
    the CPU, options that only apply to the GPU timing are named as not used."""
    import argparse

    from bwkit import efficiency

    p = argparse.ArgumentParser()
    gemm_bench.register_cli(p.add_subparsers())
    assert p.parse_args(["bench", "gemm"]).out == gemm_bench.DEFAULT_OUT == "gemm-bench.json"
    monkeypatch.chdir(tmp_path)
    row = {"step": "kloop", "dtype": "fp16", "M": 32, "N": 32, "K": 32, "ok": True, "max_abs_err": 0.0,
           "err_ratio": 0.0, "note": ""}
    monkeypatch.setattr(gemm_bench, "run_cpu_sweep", lambda: [row])
    monkeypatch.setattr(gemm_bench, "run_cpu_scaled_sweep", lambda: [])
    assert main(["bench", "gemm", "--sizes", "1024", "--dtype", "fp16"]) == 0
    out = capsys.readouterr().out
    assert "bench gemm: no CUDA GPU here, so nothing is timed." in out
    assert "bench gemm: --sizes, --dtype only apply to the GPU timing: not used here." in out
    assert json.loads((tmp_path / "gemm-bench.json").read_text())["cpu_correctness"] == [row]
    assert not (tmp_path / "results").exists()                  # the old default wrote results/gemm.json
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "README.md").write_text("kit results")
    assert efficiency.find_results_dir() == tmp_path / "results"
    assert main(["bench", "gemm", "--out", "results/gemm.json"]) == 2            # refused: lab 06 reads it
    assert "not in the kit's results/ folder" in capsys.readouterr().err
    assert efficiency.load_results() == []
    assert main(["bench", "gemm"]) == 0 and "not used here" not in capsys.readouterr().out


_FAKE_GPU = r'''
import json, os, sys, types
for k in ("BWKIT_FORCE_CPU", "TRITON_INTERPRET", "CUDA_VISIBLE_DEVICES"):
    os.environ.pop(k, None)
import torch
name, cap, sms, mem = json.loads(sys.argv[1])
props = types.SimpleNamespace(name=name, major=cap[0], minor=cap[1], multi_processor_count=sms,
                              total_memory=int(mem * 2**30))
torch.cuda.is_available = lambda: True
torch.cuda.device_count = lambda: 1
torch.cuda.get_device_properties = lambda i=0: props
torch.cuda.get_device_capability = lambda i=0: tuple(cap)
torch.cuda.get_device_name = lambda i=0: name
from bwkit import gemm_bench
def gpu_sweep(sizes, dtype, steps, progress=True):
    print("GPU SWEEP", list(sizes), dtype, list(steps))
    return [{"name": "cublas", "M": 8, "N": 8, "K": 8, "ms": 1.0, "tflops": 1.0, "x_cublas": 1.0, "pct_peak": None,
             "rel_err": 0.0, "clock": "cuda-events", "device": name, "dtype": dtype}]
gemm_bench.run_gpu_sweep = gpu_sweep
gemm_bench.plot_sweep = lambda rows, path: print("PLOT", path)
gemm_bench.run_cpu_sweep = lambda: [{"step": "kloop", "dtype": "fp16", "M": 32, "N": 32, "K": 32, "ok": True,
                                     "max_abs_err": 0.0, "err_ratio": 0.0, "note": ""}]
gemm_bench.run_cpu_scaled_sweep = lambda: []
from bwkit.kit.cli import main
print("RC", main(["bench", "gemm", *sys.argv[2:]]))
'''


def _bench_on_fake_gpu(gpu, *argv, cwd):
    res = subprocess.run([sys.executable, "-c", _FAKE_GPU, json.dumps(gpu), *argv], capture_output=True, text=True,
                         timeout=300, cwd=cwd, env={**os.environ, "PYTHONHASHSEED": "0"})
    assert "Traceback" not in res.stderr, res.stderr[-3000:]
    return res.stdout, res.stderr


def test_bench_gemm_on_simulated_gpus(tmp_path):
    """H100: the options reach the GPU sweep parsed (a bad one stops with rc 2 before setup: it crashed there);
    A100 (no bwkit.gemm plan): the interpreter's correctness sweep runs, saying why (it raised ValueError)."""
    h100 = ("NVIDIA H100 80GB HBM3", (9, 0), 132, 80.0)
    out, _ = _bench_on_fake_gpu(h100, "--sizes", "1024,2048", "--steps", "grouped,ws", "--dtype", "fp16",
                                cwd=tmp_path)
    assert "GPU SWEEP [1024, 2048] fp16 ['grouped', 'ws']" in out and out.rstrip().endswith("RC 0")
    assert json.loads((tmp_path / "gemm-bench.json").read_text())["results"][0]["dtype"] == "fp16"
    assert f"PLOT {Path('gemm-bench.png')}" in out
    out, err = _bench_on_fake_gpu(h100, "--sizes", "abc", cwd=tmp_path)
    assert out.strip() == "RC 2" and err.startswith("bench gemm: --sizes takes comma-separated positive integers")
    a100 = ("NVIDIA A100-SXM4-80GB", (8, 0), 108, 80.0)
    out, _ = _bench_on_fake_gpu(a100, "--out", str(tmp_path / "a100.json"), cwd=tmp_path)
    assert ("bench gemm: NVIDIA A100-SXM4-80GB (sm_80) has no kernel plan in bwkit.gemm, so Triton runs in the "
            "interpreter and nothing is timed.") in out
    assert "GPU SWEEP" not in out and out.rstrip().endswith("RC 0")
    assert json.loads((tmp_path / "a100.json").read_text())["cpu_correctness"][0]["ok"] is True


def test_bench_formats_reference_saturates_like_ocp_mx(monkeypatch, capsys):
    """benchmarks/bench_formats.py's loop reference rounded scaled values past E5M2's max normal to Inf, where OCP
    MX (and bwkit) saturate: its table said MXFP8-E5M2 was 99.63% bit-equal. Now both sides agree everywhere."""
    import torch

    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import bench_formats as bf

    x = torch.full((1, 64), 0.5)
    x[0, 0] = 1.95       # floor scale 2^-15: 1.95 * 2^15 = 63898 > 57344 (E5M2's max normal)
    x[0, 32] = -1.99
    ref, ours = bf.loop_reference(x, "mxfp8_e5m2"), bf.bwkit_roundtrip(x, "mxfp8_e5m2")
    assert ref[0, 0].item() == 1.75 and ref[0, 32].item() == -1.75 and torch.equal(ref, ours)
    assert bf.main(["--rows", "8", "--reps", "1", "--schemes", "mxfp8_e5m2,mxfp8_e4m3"]) == 0
    rows = [ln.split() for ln in capsys.readouterr().out.splitlines() if ln.startswith("mxfp8")]
    assert [(r[0], r[-1]) for r in rows] == [("mxfp8_e5m2", "100.00%"), ("mxfp8_e4m3", "100.00%")]


def _solution_nb(path: Path, *sources: str) -> Path:
    """A notebook at `path` holding a solution marker (a solution notebook to `bwkit execute`) and `sources`."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    nb = new_notebook(cells=[new_code_cell("x = 1\n### BEGIN SOLUTION\ny = 2\n### END SOLUTION")]
                      + [new_code_cell(s) for s in sources])
    nbformat.write(nb, path)
    return path


def test_execute_a_failing_notebook_says_which_cell_and_writes_nothing(tmp_path, capsys):
    """A cell raises: one line naming the notebook, the cell (index and id) and the error's first line, saying that
    nothing was written; exit 1, no ANSI traceback, the file unchanged and the notebooks after it not run (it was a
    47-line coloured CellExecutionError traceback)."""
    bad = _solution_nb(tmp_path / "00_bad.ipynb", "z = 3", "raise ValueError('the first line\\nthe second')")
    after = _solution_nb(tmp_path / "01_after.ipynb", "print('ran')")
    before = bad.read_text(), after.read_text()
    assert main(["execute", str(bad), str(after)]) == 1
    cap = capsys.readouterr()
    err = [ln for ln in cap.err.splitlines() if ln.startswith("execute: ")]   # the kernel may log lines of its own
    cell_id = json.loads(before[0])["cells"][2]["id"]
    assert err == [f"execute: {bad} failed at cell 2 (id {cell_id}): ValueError: the first line; nothing was written "
                   "(the notebook is unchanged): fix that cell in the notebook, then run this again "
                   f"(not run: {after})"], cap.err
    assert "\x1b[" not in cap.err and "Traceback" not in cap.err and "executed" not in cap.out
    assert (bad.read_text(), after.read_text()) == before


def test_execute_refuses_a_lab_and_other_notebooks(tmp_path, capsys):
    """`bwkit execute` of a lab stored NotImplementedError outputs in it and said "executed": now a notebook with no
    solution marker is refused (rc 2, one line, nothing run), the lab told apart, with what to run instead."""
    lab = tmp_path / "00_hardware_roofline.ipynb"
    lab.write_bytes((ROOT / "labs" / lab.name).read_bytes())
    plain = _solution_nb(tmp_path / "plain.ipynb")
    plain.write_text(plain.read_text().replace("### BEGIN SOLUTION", "#").replace("### END SOLUTION", "#"))
    good = _solution_nb(tmp_path / "01_good.ipynb", "print('ran')")
    before = lab.read_text(), plain.read_text(), good.read_text()
    assert main(["execute", str(good), str(lab)]) == 2
    err = _one_line_error(capsys, "execute")
    assert err.startswith(f"execute: {lab} is a lab (its exercise cells hold stubs, no '### BEGIN SOLUTION'): "
                          "`bwkit execute` runs solution notebooks and stores their outputs"), err
    assert "edit its solution in solutions/, `bwkit execute` that, then run `bwkit make-labs`" in err
    assert main(["execute", str(plain)]) == 2
    assert _one_line_error(capsys, "execute").startswith(
        f"execute: {plain} is not a solution notebook (no cell holds '### BEGIN SOLUTION'): ")
    assert (lab.read_text(), plain.read_text(), good.read_text()) == before


def test_make_labs_check_names_the_first_differing_cell(tmp_path, capsys):
    """`make-labs --check` said only "... differs": now it names the first differing cell (index, id, what differs)
    and that make-labs overwrites hand edits to labs/; a lab only re-indented (or saved with its sources as lists of
    lines, as JupyterLab does) is the same notebook, not stale."""
    from bwkit.kit import notebooks

    labs, sols = tmp_path / "labs", str(ROOT / "solutions")
    notebooks.make_labs(sols, labs)
    edit = {}
    for name, change in (("00_hardware_roofline", "indent"), ("01_tensor_cores", "source"),
                         ("02_number_formats", "outputs"), ("03_triton_gemm", "moved")):
        p = labs / f"{name}.ipynb"
        d = json.loads(p.read_text())
        i = next(i for i, c in enumerate(d["cells"]) if c["cell_type"] == "code")
        edit[name] = i, d["cells"][i]["id"]
        if change == "indent":
            for c in d["cells"]:
                c["source"] = c["source"].splitlines(keepends=True)
        elif change == "source":
            d["cells"][i]["source"] += "\n# my note"
        elif change == "outputs":
            d["cells"][i]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "ran\n"}]
            d["cells"][i]["execution_count"] = 1
        else:
            d["cells"].insert(i, d["cells"].pop(i + 1))
        p.write_text(json.dumps(d, indent=4 if change == "indent" else 1))
    assert main(["make-labs", "--check", "--solutions", sols, "--labs", str(labs)]) == 1
    err = capsys.readouterr().err.splitlines()
    diff = "differs from what `bwkit make-labs` generates from"
    (i1, id1), (i2, id2), (i3, id3) = edit["01_tensor_cores"], edit["02_number_formats"], edit["03_triton_gemm"]
    assert err[0].startswith(f"{labs / '01_tensor_cores.ipynb'} {diff}") and \
        err[0].endswith(f": cell {i1} (id {id1}): its source differs"), err
    assert err[1].endswith(f": cell {i2} (id {id2}): its outputs and its execution count differ"), err
    moved = json.loads((labs / "03_triton_gemm.ipynb").read_text())["cells"][i3]["id"]
    assert err[2].endswith(f": cell {i3} has id {moved!r} where make-labs writes the cell with id {id3!r} (a cell "
                           "was added, removed or moved)"), err
    assert err[3:] == [f"{labs}/ is stale: run `bwkit make-labs`; it rewrites every lab from its solution, so hand "
                       f"edits to {labs}/ are lost: make them in {sols}/"]


def test_doctor_says_when_no_results_are_saved(monkeypatch):
    """Lab 06's line claimed "saved results" where `bwkit.efficiency.load_results()` finds none (and the lab then
    prints "No saved results in results/ yet"): the line now says there are none yet."""
    from bwkit import efficiency
    from bwkit.kit.cli import doctor_report

    def lab06() -> str:
        return next(ln for ln in doctor_report().splitlines() if ln.startswith("  06 "))

    monkeypatch.setattr(efficiency, "load_results", lambda folder=None: [])
    assert lab06().endswith("efficiency model (not measured here); no saved results yet "
                            "(benchmarks/gpu_check_near_peak.py on a GPU saves them into results/)")
    monkeypatch.setattr(efficiency, "load_results", lambda folder=None: [{"file": "h100.json"}])
    assert lab06().endswith("efficiency model + saved results (not measured here)")


_FAKE_H100 = r'''
import os, types
import torch
props = types.SimpleNamespace(name="NVIDIA H100 80GB HBM3", major=9, minor=0, multi_processor_count=132,
                              total_memory=80 * 2**30)
torch.cuda.is_available = lambda: True
torch.cuda.device_count = lambda: 1
torch.cuda.get_device_properties = lambda i=0: props
from bwkit.kit.cli import doctor_report
print([ln for ln in doctor_report().splitlines() if ln.startswith("GPU")][-1])
'''


@pytest.mark.parametrize("forced", [True, False])
def test_doctor_says_the_cpu_path_was_forced_on_a_gpu_machine(forced):
    """With BWKIT_FORCE_CPU=1 runtime.detect() reports no GPU, and the doctor said "no GPU (CUDA not available)"
    on a GPU machine too (a simulated H100 here): it now says the CPU path was forced, and how to undo it."""
    env = {k: v for k, v in os.environ.items() if k not in ("BWKIT_FORCE_CPU", "CUDA_VISIBLE_DEVICES")}
    if forced:
        env["BWKIT_FORCE_CPU"] = "1"
    res = subprocess.run([sys.executable, "-c", _FAKE_H100], capture_output=True, text=True, timeout=300, env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    if forced:
        assert res.stdout == ("GPU         not queried: BWKIT_FORCE_CPU=1 forces the CPU path, so no GPU is used "
                              "(unset BWKIT_FORCE_CPU to use this machine's GPU, if it has one)\n")
    else:
        assert res.stdout.startswith("GPU         NVIDIA H100 80GB HBM3, compute capability 9.0 (sm_90a), 132 SMs")
