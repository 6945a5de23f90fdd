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
