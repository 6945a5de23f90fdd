"""Answers of the wrong kind (numbers as text, 0.25 for an int, None for a tuple, a float16 result, a function
for a value, an endless loop, ...): each check fails and says what is wrong, in the learner's terms.

Every row is (exercise, answers, a fragment of the verdict). The answers are built from the exercise's own
reference (`Part.expected`), so that only their kind is wrong.
"""

import threading

import pytest
import torch

from bwkit.kit.checks import CheckFailure, NotAnswered
from bwkit.kit.exercises import engine, get, run


def _ref(ex_id: str, part: int = 0):
    p = get(ex_id).parts[part]
    return lambda *a, **k: p.expected(*a, **k)


R = {ex_id: _ref(ex_id) for ex_id in ("00.1", "01.7", "04.4", "06.3", "07.5", "07.8", "08.7", "09.3", "09.5",
                                      "09.6")}


def _loop(*a):
    while True:
        pass


def _grouped(t, m, n, g, *, div=False):
    per_group = g * n
    first = t // per_group * g
    rows = min(m - first, g)
    return first + t % per_group % rows, (t % per_group / rows) if div else (t % per_group // rows)


def _helper_not_implemented(*a):
    raise NotImplementedError("only for FP8")


def _perm(f, post):
    return lambda *a: post(tuple(f(*a).values()))


CASES = [
    # 1. numbers as text inside a list or tuple
    ("09.3", lambda: {"ring_phases": lambda *a, f=R["09.3"]: tuple(str(x) for x in f(*a))}, "drop the quotes"),
    ("06.3", lambda: {"waves": lambda *a, f=R["06.3"]: tuple(str(x) for x in f(*a))}, "got a str ('"),
    ("09.5", lambda: {"ws_budget": lambda *a, f=R["09.5"]: tuple(str(x) for x in f(*a))}, "drop the quotes"),
    ("09.6", lambda: {"tmem_columns": lambda *a, f=R["09.6"]: tuple(str(x) for x in f(*a))}, "as item [0]"),
    ("01.7", lambda: {"tmem_footprint_per_cta": lambda *a, f=R["01.7"]: tuple(str(x) for x in f(*a))},
     "drop the quotes"),
    ("00.1", lambda: {"ridge_point": lambda *a, f=R["00.1"]: [str(f(*a))]}, "got a str ('562.5') as item [0]"),
    ("02.7", lambda: {"scale_offset": lambda m, kb, n: str(_ref_offset(m, kb, n))}, "returned '0', expected 0"),
    # 2. non-integral numbers where an int is asked for (the check's own int() truncated them)
    ("03.5", lambda: {"my_grouped_pid": lambda *a: _grouped(*a, div=True)}, "pid_n = 0.25"),
    ("03.5", lambda: {"my_grouped_pid": lambda *a: tuple(str(x) for x in _grouped(*a))}, "pid_m = a str ('0')"),
    ("04.4", lambda: {"dot_scaled_shapes": lambda *a, f=R["04.4"]: tuple(tuple(v + 0.5 for v in s)
                                                                             for s in f(*a))},
     "holds 128.5 (use // for integer division): expected an int"),
    ("05.1", lambda: {"blocked_8x8": lambda i, j: 16 * (i // 4 + 2 * (j // 4)) + 4 * (i % 4) + j % 4 + 0.5},
     "blocked_8x8(0, 0) returned 0.5"),
    ("05.1", lambda: {"blocked_8x8": lambda i, j: str(16 * (i // 4 + 2 * (j // 4)) + 4 * (i % 4) + j % 4)},
     "returned a str ('0'): a layout function must return an int index"),
    ("05.4", lambda: {"epilogue_tv": lambda t, v: t + 128 * v + 0.5}, "epilogue_tv(0, 0) returned 0.5"),
    # 6. None / a dict / an int where a tuple is expected
    ("03.5", lambda: {"my_grouped_pid": lambda *a: None}, "returned None: is a `return` missing?"),
    ("03.5", lambda: {"my_grouped_pid": lambda *a: dict(zip(("pid_m", "pid_n"), _grouped(*a), strict=True))},
     "returned a dict ({'pid_m': 0, 'pid_n': 0}), expected a (pid_m, pid_n) tuple"),
    ("03.5", lambda: {"my_grouped_pid": lambda *a: _grouped(*a)[0]}, "returned an int (0), expected a (pid_m"),
    ("05.1", lambda: {"blocked_8x8": lambda i, j: None}, "blocked_8x8(0, 0) returned None: is a `return` missing"),
    ("05.2", lambda: {"my_complement": lambda i, j: None}, "my_complement(0, 0) returned None"),
    # 3./12. 08.7: text is no number; the reference's private type is never named
    ("08.7", lambda: {"weight_bytes_per_token": lambda cfg, b, f=R["08.7"]: str(float(f(cfg, b)))},
     "drop the quotes"),
    ("08.7", lambda: {"weight_bytes_per_token": lambda cfg, b: [1, 2]}, "expected shape [] (float)"),
    # 4. too large, too deep, not data
    ("00.5", lambda: {"b200_ms": torch.zeros(4200, 4200)},
     "your answer is 67.3 MiB (a float32 Tensor of shape [4200, 4200]): the check carries at most 64 MiB once "
     "encoded (about 47 MiB of tensor data)"),
    ("00.5", lambda: {"b200_ms": _nested(45)}, "could not be read as data (CodecError: answer nested"),
    ("00.5", lambda: {"b200_ms": torch.tensor(6.0, device="meta")}, "could not be read as data"),
    # 5. objects the codec carries by type and repr only
    ("00.5", lambda: {"b200_ms": lambda: 6.0}, "got a function (<lambda>), expected a value: call it"),
    ("00.1", lambda: {"ridge_point": lambda *a: (x for x in a)}, "got a generator (<generator object"),
    ("00.5", lambda: {"b200_ms": {6.0}}, "got a set ({6.0}), expected a number"),
    ("00.5", lambda: {"b200_ms": 6 + 0j}, "got a complex ((6+0j))"),
    ("00.4", lambda: {"answer": lambda: "memory"}, "`answer` is a function (<lambda>), not one of the options"),
    # 7. a NotImplementedError that is not the stub's
    ("00.1", lambda: {"ridge_point": _helper_not_implemented}, "raised NotImplementedError: only for FP8"),
    # 8. float16 where the prompt asks for float64 / the inputs' dtype
    ("04.2", lambda: {"dequant_matmul": lambda a, w: (a.dequantize().double() @ w.dequantize().double().T).half()},
     "your answer is float16 (11 significant bits), expected float64"),
    ("07.5", lambda: {"my_combine": lambda *a, f=R["07.5"]: f(*a).half()}, "your answer is float16"),
    ("07.8", lambda: {"moe_layer_output": lambda *a, f=R["07.8"]: f(*a).bfloat16()}, "your answer is bfloat16"),
    ("07.3", lambda: {"my_gate": lambda s, b, c: _lib_gate(s, b, c, half=True)}, "your answer is float16"),
    # 9. the text "raises ValueError" is no raise
    ("01.1", lambda: {"tmem_alloc_columns": _alloc_says_raises},
     "returned a str ('raises ValueError') instead of raising ValueError"),
    # 11. 07.4's ids: 1-D integer tensors
    ("07.4", lambda: {"my_permute": _perm(_ref("07.4"), lambda t: (t[0].reshape(1, -1), t[1]))},
     "sorted_ids has shape [1, 12]: it must be a 1-D tensor"),
    ("07.4", lambda: {"my_permute": _perm(_ref("07.4"), lambda t: (t[0].float(), t[1]))},
     "sorted_ids is float32: it must be an integer tensor"),
]


def _nested(depth):
    x = 6.0
    for _ in range(depth):
        x = [x]
    return x


def _ref_offset(m, kb, n_kb):
    from bwkit.kit.exercises import lab02

    return lab02._tiled(m, kb, n_kb)


def _lib_gate(s, b, cfg, half=False):
    from bwkit import moe

    w, ids = moe.gate_from_scores(s, b, cfg)
    return (w.half() if half else w), ids


def _alloc_says_raises(M, N, b):
    from bwkit import tensorcores as tc

    try:
        return tc.tmem_budget(M, N, acc_buffers=b).allocated
    except ValueError:
        return "raises ValueError"


@pytest.mark.parametrize(("ex_id", "answers", "fragment"), CASES,
                         ids=[f"{c[0]}-{c[2][:30]}" for c in CASES])
def test_wrong_kind_fails_and_says_why(ex_id, answers, fragment):
    v = run(ex_id, answers())
    assert not v.ok, f"{ex_id} passed an answer of the wrong kind"
    assert not v.not_answered, v.text()
    assert fragment in v.text(), v.text()
    assert "Opaque(" not in v.text() and "_TokenBytes" not in v.text()


def test_the_right_kinds_still_pass():
    """Integral floats, NumPy and 0-d tensor ints, tensors for tuples: numerically right answers pass."""
    import numpy as np

    assert run("03.5", {"my_grouped_pid": lambda *a: torch.tensor(_grouped(*a))}).ok
    assert run("03.5", {"my_grouped_pid": lambda *a: tuple(float(x) for x in _grouped(*a))}).ok
    assert run("04.4", {"dot_scaled_shapes": lambda *a, f=R["04.4"]: [list(s) for s in f(*a)]}).ok
    assert run("05.4", {"epilogue_tv": lambda t, v: np.int64(t + 128 * v)}).ok
    assert run("05.4", {"epilogue_tv": lambda t, v: torch.tensor(t + 128 * v)}).ok
    assert run("09.3", {"ring_phases": lambda *a, f=R["09.3"]: tuple(float(x) for x in f(*a))}).ok
    assert run("04.2", {"dequant_matmul": lambda a, w: (a.dequantize().double() @ w.dequantize().double().T)
                        .float()}).ok
    assert run("01.1", {"tmem_alloc_columns": lambda M, N, b: _alloc_reference_or_raise(M, N, b)}).ok


def _alloc_reference_or_raise(M, N, b):
    from bwkit import tensorcores as tc

    return tc.tmem_budget(M, N, acc_buffers=b).allocated


def test_05_7_names_the_ptx_mistake_only_for_text_or_a_function():
    for value, named in [(None, False), ({"ptx": "x"}, False), ("ptx text", True), (lambda: 0, True)]:
        v = run("05.7", {"my_kernel": value})
        assert not v.ok
        assert ("not its PTX text or the function" in v.text()) is named, (value, v.text())


def test_only_the_stub_is_not_answered():
    def stub(*a):
        raise NotImplementedError("Exercise 00.1 (ridge point): write your code here")

    v = run("00.1", {"ridge_point": stub})
    assert v.not_answered and "the exercise stub" in v.text()
    assert run("00.1", {"ridge_point": lambda *a: (_ for _ in ()).throw(NotImplementedError())}).not_answered
    with pytest.raises(NotAnswered):
        v.show()
    v = run("00.1", {"ridge_point": _helper_not_implemented})
    assert not v.not_answered
    with pytest.raises(CheckFailure) as e:
        v.show()
    assert not isinstance(e.value, NotAnswered)


def test_an_endless_loop_is_stopped(monkeypatch):
    import signal
    import time

    monkeypatch.setattr(engine, "CASE_SECONDS", 0.5)
    before = signal.getsignal(signal.SIGALRM)
    t = time.monotonic()
    v = run("00.1", {"ridge_point": _loop})
    assert time.monotonic() - t < 10
    assert not v.ok and "took more than 0.5 s (an endless loop?)" in v.text(), v.text()
    assert signal.getsignal(signal.SIGALRM) is before
    assert signal.getitimer(signal.ITIMER_REAL)[0] == 0
    assert run("00.1", {"ridge_point": _ref("00.1")}).ok      # no alarm left behind


def test_no_time_limit_outside_the_main_thread_nor_in_probe_by_default(monkeypatch):
    """`probe` (what the grader calls, under its own cell timeout) sets no alarm unless asked; `run` in another
    thread sets none (signals are the main thread's)."""
    import signal

    seen = []
    monkeypatch.setattr(signal, "setitimer", lambda *a: seen.append(a))
    ex = get("00.1")
    engine.probe("00.1", {"ridge_point": _ref("00.1")}, engine.make_payload(ex))
    assert not seen
    out = []
    th = threading.Thread(target=lambda: out.append(run("00.1", {"ridge_point": _ref("00.1")}).ok))
    th.start()
    th.join()
    assert out == [True] and not seen
