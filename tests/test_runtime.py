import os
import subprocess
import sys

import pytest
import torch

from bwkit.kit import runtime


def test_cpu_path_uses_interpreter():
    # tests/conftest.py called bwkit.setup() on this GPU-less machine (or forced CPU)
    rt = runtime.detect()
    if rt.has_gpu:
        pytest.skip("GPU machine: the interpreter is not forced")  # the CPU CI run covers this branch
    assert os.environ["TRITON_INTERPRET"] == "1"
    assert rt.arch == "cpu" and rt.triton_path == "interpreter" and not rt.can_time
    assert "No CUDA GPU" in rt.describe()


def test_arch_names():
    mk = lambda cap: runtime.Runtime("x", cap, 1, 1.0, False)  # noqa: E731
    assert mk((10, 0)).arch == "sm_100a" and mk((10, 0)).is_blackwell_dc and mk((10, 0)).kind == "sm_100a"
    assert mk((10, 3)).arch == "sm_103a" and mk((10, 3)).is_blackwell_dc and mk((10, 3)).kind == "sm_100a"  # B300
    assert mk((9, 0)).arch == "sm_90a" and mk((9, 0)).is_hopper and not mk((9, 0)).is_blackwell_dc
    assert mk((11, 0)).arch == "sm_110a" and not mk((11, 0)).is_blackwell_dc and mk((11, 0)).kind == "other"
    assert mk((12, 0)).arch == "sm_120a" and mk((12, 0)).kind == "sm_120" and "no tcgen05" in mk((12, 0)).describe()
    assert mk((12, 1)).arch == "sm_121a" and "no tcgen05" in mk((12, 1)).describe()
    assert mk((8, 0)).arch == "sm_80" and mk((8, 9)).arch == "sm_89" and mk((8, 9)).kind == "other"
    assert mk(None).arch == "cpu" and mk(None).kind == "cpu"
    assert runtime.arch_name((10, 3)) == "sm_103a"
    with pytest.raises(ValueError, match="capability"):
        runtime.arch_name((10, "3"))


def test_setup_after_triton_import_explains():
    code = ("import os; os.environ.pop('TRITON_INTERPRET', None); os.environ['BWKIT_FORCE_CPU']='1'\n"
            "import triton, bwkit\n"
            "try:\n    bwkit.setup()\nexcept RuntimeError as e:\n    print('ERR', e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120).stdout
    assert "ERR bwkit.setup() must run before `import triton`" in out


def test_setup_seeds():
    runtime.setup(seed=3, quiet=True)
    a = torch.rand(3)
    runtime.setup(seed=3, quiet=True)
    assert torch.equal(a, torch.rand(3))
    with pytest.raises(TypeError):
        runtime.setup(seed="3")


def test_interpreter_bf16_dot_is_wrong_and_guarded():
    """The interpreter's bf16 tl.dot bug (triton issue 11584) is real here, and the guard refuses bf16."""
    if not runtime.interpreter_active():
        pytest.skip("native GPU path: the interpreter bug does not apply")
    import triton
    import triton.language as tl

    @triton.jit
    def dot_kernel(a_ptr, b_ptr, c_ptr, N: tl.constexpr):
        offs = tl.arange(0, N)
        a = tl.load(a_ptr + offs[:, None] * N + offs[None, :])
        b = tl.load(b_ptr + offs[:, None] * N + offs[None, :])
        tl.store(c_ptr + offs[:, None] * N + offs[None, :], tl.dot(a, b))

    n = 16
    a = torch.randn(n, n).to(torch.bfloat16)
    b = torch.randn(n, n).to(torch.bfloat16)
    c = torch.empty(n, n)
    dot_kernel[(1,)](a, b, c, N=n)
    ref = a.float() @ b.float()
    assert not torch.allclose(c, ref, atol=1e-1), "interpreter bf16 tl.dot now correct: revisit guard_dot_dtypes"
    # fp16 and fp32 are right
    for dt in (torch.float16, torch.float32):
        a2, b2 = a.to(dt), b.to(dt)
        dot_kernel[(1,)](a2, b2, c, N=n)
        torch.testing.assert_close(c, a2.float() @ b2.float(), atol=1e-2, rtol=1e-2)
    with pytest.raises(runtime.InterpreterBugError, match="11584"):
        runtime.guard_dot_dtypes(torch.ones(2), a)
    runtime.guard_dot_dtypes(a.half(), b.float())  # fine


def test_jit_helper_call_does_not_leave_the_language_patched():
    """Interpreter: a kernel calling a @triton.jit helper (tl.zeros) must not break a later compile."""
    if not runtime.interpreter_active():
        pytest.skip("native GPU path: no interpreter")
    import triton
    import triton.language as tl

    from bwkit import inspect as bwi

    @triton.jit
    def fill_kernel(x_ptr, N: tl.constexpr):
        offs = tl.arange(0, N)
        tl.store(x_ptr + offs, tl.zeros((N,), tl.float32) + 2.0)

    x = torch.zeros(16)
    fill_kernel[(1,)](x, N=16)
    assert torch.equal(x, torch.full((16,), 2.0))
    k = bwi.compile_triton(fill_kernel, {"x_ptr": "*fp32"}, {"N": 16}, target="sm_100a")
    assert k.ptx_target() == "sm_100a" and "st.global" in k.ptx
    fill_kernel[(1,)](x, N=16)  # and the interpreter still runs afterwards
    assert torch.equal(x, torch.full((16,), 2.0))


# A simulated GPU: torch.cuda reports it (no real one is needed), then the snippet runs in a fresh process.
_FAKE_GPU = r'''
import json, os, sys, types
for k in ("BWKIT_FORCE_CPU", "TRITON_INTERPRET", "CUDA_VISIBLE_DEVICES"):
    os.environ.pop(k, None)
os.environ.update(json.loads(sys.argv[1]))
import torch
name, cap, sms, mem = json.loads(sys.argv[2])
props = types.SimpleNamespace(name=name, major=cap[0], minor=cap[1], multi_processor_count=sms,
                              total_memory=int(mem * 2**30))
def _broken(i=0):
    raise RuntimeError("CUDA error: CUDA-capable device(s) is/are busy or unavailable\nmore detail")
torch.cuda.is_available = lambda: True
torch.cuda.device_count = lambda: 1
torch.cuda.get_device_properties = _broken if name == "broken" else (lambda i=0: props)
torch.cuda.get_device_capability = lambda i=0: tuple(cap)
torch.cuda.get_device_name = lambda i=0: name
'''


def _on_fake_gpu(gpu, code, env=None):
    import json

    res = subprocess.run([sys.executable, "-c", _FAKE_GPU + code, json.dumps(env or {}), json.dumps(gpu)],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    return res.stdout


def test_native_plans_and_kinds():
    """Which GPUs the kit's Triton kernels are planned for, and the catalog kind of every other one ('other')."""
    mk = lambda cap: runtime.Runtime("x", cap, 1, 1.0, False)  # noqa: E731
    assert {cap: mk(cap).native_plan for cap in ((9, 0), (10, 0), (10, 3), (12, 0), (12, 1))} == {
        (9, 0): "sm_90a", (10, 0): "sm_100a", (10, 3): "sm_100a", (12, 0): "sm_120", (12, 1): "sm_120"}
    for cap in ((8, 0), (8, 6), (8, 9), (11, 0), (7, 5), (12, 2)):
        assert mk(cap).native_plan is None and mk(cap).kind == "other", cap
    assert mk(None).native_plan is None and runtime.native_plan(None) is None
    assert "no plan for sm_89" in runtime.Runtime("L4", (8, 9), 58, 23.0, True).describe()
    from bwkit.gemm import plan

    for name, target in runtime.NATIVE_PLANS.items():      # plan.py reads the same table
        assert plan.plan_target(name) == target == plan.plan_target(name.removesuffix("a"))
    with pytest.raises(ValueError, match="no kernel plan for"):
        plan.plan_target((8, 0))


def test_setup_runs_triton_in_the_interpreter_on_a_gpu_without_a_plan():
    """An A100 (sm_80): bwkit.gemm has no plan for it, so setup() switches the interpreter on and says why in one
    line; doctor said beforehand that it would, and lab 03's ladder wrappers then run (they raised ValueError)."""
    code = r'''
from bwkit.kit.cli import doctor_report
from bwkit.kit import catalog
before = doctor_report()
import bwkit
rt = bwkit.setup(quiet=True)
print("RT", rt.kind, rt.interpreter, rt.can_time, os.environ.get("TRITON_INTERPRET"))
print("DOCTOR", [ln for ln in before.splitlines() if ln.startswith("Triton interpreter")][0])
print("LAB03", [p for lab, p in catalog.lab_paths(rt.kind) if lab.number == "03"][0])
from bwkit import gemm
a, b = gemm.fresh(40, 24, 32, "fp32", generator=torch.Generator().manual_seed(0))
for step in ("kloop", "grouped", "ws"):
    c = gemm.ladder_step(step).wrapper(a, b)
    print("STEP", step, c.device.type, bool(torch.allclose(c.double(), gemm.reference_matmul(a, b), atol=1e-3)))
'''
    out = _on_fake_gpu(("NVIDIA A100-SXM4-80GB", (8, 0), 108, 80.0), code).splitlines()
    assert out[0] == ("bwkit.setup(): NVIDIA A100-SXM4-80GB is sm_80, and the kit's Triton kernels are planned for "
                      "sm_90a, sm_100a/sm_103a and sm_120a/sm_121a only: Triton interpreter switched on (set "
                      "TRITON_INTERPRET=0 before setup() to compile natively anyway).")
    assert out[1] == "RT other True False 1"
    assert out[2] == ("DOCTOR Triton interpreter  will be switched on by bwkit.setup(): the kit's Triton kernels have "
                      "no plan for sm_80 (set TRITON_INTERPRET=0 to compile natively anyway)")
    assert out[3] == "LAB03 interpreter + compile-only"
    assert out[4:] == [f"STEP {s} cpu True" for s in ("kloop", "grouped", "ws")]


def test_setup_keeps_native_triton_where_planned_or_asked():
    """An H100 keeps the native path (nothing printed with quiet=True); an A100 with TRITON_INTERPRET=0 too, and
    describe() says the kit's kernels then need explicit blocks."""
    code = 'import bwkit\nrt = bwkit.setup(quiet=True)\nprint("RT", rt.kind, rt.interpreter, rt.can_time)\n' \
           'print(rt.describe())\n'
    h100 = _on_fake_gpu(("NVIDIA H100 80GB HBM3", (9, 0), 132, 80.0), code).splitlines()
    assert h100[0] == "RT sm_90a False True" and "Native Hopper path" in h100[1]
    a100 = _on_fake_gpu(("NVIDIA A100-SXM4-80GB", (8, 0), 108, 80.0), code, {"TRITON_INTERPRET": "0"}).splitlines()
    assert a100[0] == "RT other False True"
    assert "Native Triton (TRITON_INTERPRET=0), but the kit's kernels have no plan for sm_80" in a100[1]


def test_setup_takes_the_cpu_path_on_a_broken_cuda_install():
    """torch.cuda.is_available() is True but asking for the device raises: setup() takes the CPU path (interpreter
    on), as `bwkit doctor` says, with one line naming the error, and detect() agrees afterwards."""
    code = r'''
from bwkit.kit.cli import doctor_report
print("DOCTOR", [ln for ln in doctor_report().splitlines() if ln.startswith("GPU")])
import bwkit
from bwkit.kit import runtime
rt = bwkit.setup(quiet=True)
print("RT", rt.has_gpu, rt.kind, rt.interpreter, os.environ.get("TRITON_INTERPRET"), runtime.detect().has_gpu)
'''
    out = _on_fake_gpu(("broken", (9, 0), 132, 80.0), code).splitlines()
    assert "the CPU path is used" in out[0]
    assert out[1] == ("bwkit.setup(): CUDA reports a GPU but fails when asked about it (RuntimeError: CUDA error: "
                      "CUDA-capable device(s) is/are busy or unavailable); taking the CPU path (Triton interpreter).")
    assert out[2] == "RT False cpu True 1 False"


@pytest.mark.parametrize("env", [{"TRITON_CACHE_DIR": "/proc/nope/cache"}, {"HOME": "/proc/nope"}])
def test_unwritable_triton_cache_moves_to_a_private_folder(env, monkeypatch, capsys):
    """Triton's cache (~/.triton/cache or $TRITON_CACHE_DIR) cannot be created: a compile-only cell raised
    FileNotFoundError from Triton; now the cache moves to a private temporary folder, said in one line."""
    import stat

    import triton
    import triton.language as tl

    from bwkit import inspect as bwi

    for k in ("TRITON_CACHE_DIR", "TRITON_HOME"):
        monkeypatch.delenv(k, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    where = runtime.triton_cache_dir()
    assert where == env.get("TRITON_CACHE_DIR", "/proc/nope/.triton/cache")
    note = runtime.ensure_triton_cache()
    moved = os.environ["TRITON_CACHE_DIR"]
    assert note == f"bwkit.setup(): Triton's cache folder {where} is not writable; using {moved} (TRITON_CACHE_DIR)."
    assert os.path.isdir(moved) and stat.S_IMODE(os.stat(moved).st_mode) == 0o700
    assert runtime.ensure_triton_cache() is None          # once moved, it stays quiet

    @triton.jit
    def add_one(x_ptr, BLOCK: tl.constexpr):
        offs = tl.arange(0, BLOCK)
        tl.store(x_ptr + offs, tl.load(x_ptr + offs) + 1)

    monkeypatch.setenv("TRITON_CACHE_DIR", where)           # compile_triton makes the same move on its own
    k = bwi.compile_triton(add_one, {"x_ptr": "*fp32"}, {"BLOCK": 64}, target="sm_90a")
    assert "st.global" in k.ptx and os.environ["TRITON_CACHE_DIR"] == moved
    assert capsys.readouterr().out == note.replace("bwkit.setup()", "bwkit.inspect.compile_triton") + "\n"
