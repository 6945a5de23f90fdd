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
