import numpy as np
import pytest
import torch

from bwkit.kit.checks import CheckFailure, check, check_choice, check_true


def test_pass_prints_tick(capsys):
    check(1.0 + 1e-9, 1.0, name="t", rtol=1e-6)
    assert capsys.readouterr().out.strip() == "PASS ✅ t"


def test_scalar_failure_names_values(capsys):
    with pytest.raises(CheckFailure, match="got 2, expected 1") as e:
        check(2.0, 1.0, name="t")
    assert capsys.readouterr().out == ""                    # shown once: as the exception, not printed too
    assert e.value._render_traceback_()[0] == "FAIL ❌ t"   # IPython renders the diagnosis, no traceback


def test_known_mistake_is_diagnosed():
    with pytest.raises(CheckFailure, match="Likely mistake: inverse"):
        check(0.5, 2.0, name="t", mistakes={"off by ten": 20.0, "inverse": 0.5})
    # list of wrong values for one diagnosis (e.g. off by 1000 either way)
    with pytest.raises(CheckFailure, match="units"):
        check(0.002, 2.0, name="t", mistakes={"units": [2000.0, 0.002]})


def test_mistake_as_callable():
    with pytest.raises(CheckFailure, match="scale"):
        check(torch.ones(3), 2.5 * torch.ones(3), name="t", mistakes={"missing scale": lambda: torch.ones(3)})


def test_tensor_failure_reports_count_first_and_errors():
    ref = torch.zeros(4, 4)
    out = ref.clone()
    out[1, 2] = 1.0
    out[3, 3] = float("nan")
    with pytest.raises(CheckFailure) as e:
        check(out, ref, name="t", atol=1e-3)
    msg = str(e.value)
    assert "2 of 16 elements wrong" in msg
    assert "first wrong element at [1, 2]: got 1, expected 0" in msg
    assert "1 NaN(s)" in msg


def test_shape_mismatch_and_transpose_hint():
    with pytest.raises(CheckFailure, match="transpose"):
        check(torch.zeros(2, 3), torch.zeros(3, 2), name="t")


def test_none_means_missing_return():
    with pytest.raises(CheckFailure, match="return"):
        check(None, 1.0, name="t")


def test_integer_and_numpy_inputs():
    check(np.arange(5), torch.arange(5), name="t")
    with pytest.raises(CheckFailure, match="1 of 5"):
        check(np.array([0, 1, 2, 3, 5]), torch.arange(5, dtype=torch.uint8), name="t")


def test_hint_printed_when_no_mistake_matches():
    with pytest.raises(CheckFailure, match="Hint: look again"):
        check(3.0, 1.0, name="t", hint="look again", mistakes={"x": 7.0})


def test_choice_and_true():
    check_choice("Memory ", "memory", name="c", options=["memory", "compute"])
    with pytest.raises(CheckFailure, match="weights dominate"):
        check_choice("compute", "memory", name="c", explanations={"compute": "weights dominate"})
    with pytest.raises(CheckFailure, match="not one of the options"):
        check_choice("both", "memory", name="c", options=["memory", "compute"])
    check_true(True, name="ok", diagnosis="never shown")
    with pytest.raises(CheckFailure, match="why"):
        check_true(False, name="no", diagnosis="why")


def test_bad_arguments():
    with pytest.raises(ValueError, match="name"):
        check(1, 1, name="")
    with pytest.raises(ValueError, match="tolerances"):
        check(1, 1, name="t", atol=-1)


def test_answers_in_other_forms_pass():
    check(np.int64(394), 394, name="t")
    check(np.float32(0.1), 0.1, name="t", rtol=1e-9)                       # float32 gets a float32 tolerance
    check(torch.full((4,), 0.672628, dtype=torch.float32), torch.full((4,), 0.672628, dtype=torch.float64),
          name="t", rtol=1e-12)
    check([1, 2, 3], torch.tensor([1, 2, 3]), name="t")
    check((4, "x"), (4, "x"), name="t")
    check({"a": np.float64(1.0)}, {"a": 1.0}, name="t")


def test_wrong_types_say_what_to_convert():
    with pytest.raises(CheckFailure, match="drop the quotes"):
        check("5", 5.0, name="t")
    with pytest.raises(CheckFailure, match="call it"):
        check(lambda: 5, 5.0, name="t")
    with pytest.raises(CheckFailure, match=r"expected shape \[3\]"):
        check(torch.zeros(4), torch.zeros(3), name="t")
    with pytest.raises(CheckFailure, match="keys differ"):
        check({"a": 1}, {"b": 1}, name="t")


def test_no_nonsense_relative_error_against_zero():
    with pytest.raises(CheckFailure) as e:
        check(torch.tensor([1.0, 0.0]), torch.tensor([0.0, 0.0]), name="t")
    assert "e+29" not in str(e.value) and "e+30" not in str(e.value) and "undefined" in str(e.value)


def test_a_half_precision_answer_gets_its_own_rounding_and_no_more():
    ref = torch.tensor([-0.646484, 12.5, 800.0, 0.001], dtype=torch.float32)
    check(ref.to(torch.bfloat16), ref, name="t", atol=1e-3, rtol=1e-5)       # the reference rounded: passes
    check(ref.half(), ref, name="t", atol=1e-3, rtol=1e-5)
    check(torch.tensor(6.0, dtype=torch.bfloat16), 6.0, name="t", rtol=1e-3)
    check(np.float16(6.0), 6.0, name="t", rtol=1e-3)
    # these passed while the tolerance grew to 8 ulps (6 % for bfloat16) and atol to 8 ulps of the largest element
    with pytest.raises(CheckFailure, match="3 of 4 elements wrong") as e:
        check((ref * 1.05).to(torch.bfloat16), ref, name="t", atol=1e-3, rtol=1e-5)    # 5 % too large
    assert "your answer is bfloat16" in str(e.value) and "compute and return float32" in str(e.value)
    small_wrong = ref.clone()
    small_wrong[0] = -0.70                   # 8 % off, but 8 bf16 ulps of 800 (= 50) used to cover it
    with pytest.raises(CheckFailure, match=r"1 of 4 elements wrong .*\n.*\n.*first wrong element at \[0\]"):
        check(small_wrong.to(torch.bfloat16), ref, name="t", atol=1e-3, rtol=1e-5)
    with pytest.raises(CheckFailure, match="got 6.1875, expected 6") as e:
        check(torch.tensor(6.2, dtype=torch.bfloat16), 6.0, name="t", rtol=1e-3)       # 3 % off
    assert "return a Python float" in str(e.value)
    with pytest.raises(CheckFailure, match="float16"):
        check(np.float16(6.02), 6.0, name="t", rtol=1e-3)


def test_a_float32_answer_keeps_its_tolerance_against_the_largest_element():
    ref = torch.tensor([1000.0, 1e-4], dtype=torch.float64)     # a float32 sum whose terms cancel near 1e-4
    check(torch.tensor([1000.0, 1.5e-4], dtype=torch.float32), ref, name="t", rtol=1e-9)
    with pytest.raises(CheckFailure, match="1 of 2") as e:
        check(torch.tensor([1000.0, 2e-3], dtype=torch.float32), ref, name="t", rtol=1e-9)
    assert "your answer is" not in str(e.value)                # float32 is not called narrow


def test_keep_dtype_judges_each_input_dtype_at_its_own_precision():
    from bwkit.kit.checks import compare_not_narrow

    cmp = compare_not_narrow(atol=1e-12, rtol=1e-12, keep_dtype=True)
    x64 = torch.randn(64, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    ref64 = x64.exp()
    assert cmp(ref64, ref64) == (True, [])
    ok, lines = cmp(x64.float().exp(), ref64)          # a .float() on the way: right to float32 only
    assert not ok and "your answer is float32, expected float64" in lines[0]
    ok, _ = cmp(x64.float().exp().double(), ref64)     # float64 dtype, float32 precision: wrong numbers
    assert not ok
    ref32 = ref64.float()                             # a float32 case: the float64 reference rounded
    assert cmp(x64.float().exp(), ref32)[0]           # a float32 computation meets it (8 ulps)
    assert cmp(ref64, ref32)[0]                       # so does a wider answer
    assert not cmp(x64.float().exp() * (1 + 1e-5), ref32)[0]      # 80 ulps off is not float32 rounding
    assert not compare_not_narrow(atol=1e-12, rtol=1e-12)(x64.float().exp() * 0, ref64)[0]


def test_exact_dtype_names_the_dtype_only_when_the_values_are_right():
    from bwkit.kit.checks import compare_exact_dtype

    cmp = compare_exact_dtype(why=" (one byte per pair)")
    ref = torch.tensor([0x21, 0xF0], dtype=torch.uint8)
    assert cmp(ref.clone(), ref) == (True, [])
    assert cmp(ref.numpy(), ref)[0]                   # a NumPy uint8 array is a uint8 answer
    ok, lines = cmp(ref.long(), ref)
    assert not ok and lines == ["the values are right but your answer is int64, expected uint8 (one byte per "
                                "pair): return a uint8 tensor (.to(torch.uint8))"]
    ok, lines = cmp(ref.long() + 1, ref)              # wrong values: the numbers are the news
    assert not ok and "2 of 2 elements wrong" in lines[0]


def test_a_list_of_wrong_items_is_short():
    ref = [(i, i + 1) for i in range(40)]
    with pytest.raises(CheckFailure) as e:
        check([(b, a) for a, b in ref], ref, name="t")
    lines = str(e.value).splitlines()
    assert lines[1].strip() == "item 0: got (1, 0), expected (0, 1)"
    assert len(lines) == 5 and lines[-1].strip() == "40 of 40 items wrong (the first 3 shown)"
