"""bwkit.layouts: plain-Python layouts against hand-computed mappings and against CuTe's own evaluation."""

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

import cutlass.cute as cute  # noqa: E402

from bwkit import layouts as L  # noqa: E402
from bwkit.kit.checks import CheckFailure  # noqa: E402


def test_row_and_column_major_by_hand():
    row = L.Layout((4, 8), (8, 1))
    col = L.Layout((4, 8), (1, 4))
    assert row((1, 2)) == 10 and row(1, 2) == 10
    assert col((1, 2)) == 9
    assert L.table(row).tolist() == [[8 * i + j for j in range(8)] for i in range(4)]
    assert L.table(col).tolist() == [[i + 4 * j for j in range(8)] for i in range(4)]
    # an integer coordinate is split colexicographically (mode 0 fastest)
    assert [col(i) for i in range(32)] == list(range(32))
    assert [row(i) for i in range(5)] == [0, 8, 16, 24, 1]
    assert row.size == 32 and row.cosize() == 32 and row.rank == 2
    assert str(row) == "(4,8):(8,1)"


def test_nested_mode_by_hand():
    lay = L.Layout(((2, 2), 8), ((1, 16), 2))
    # mode-0 index i -> (i % 2, i // 2) -> (i % 2) * 1 + (i // 2) * 16
    expected = [[(i % 2) + (i // 2) * 16 + 2 * j for j in range(8)] for i in range(4)]
    assert L.table(lay).tolist() == expected
    assert lay(((1, 1), 3)) == 1 + 16 + 6
    assert lay.mode(1) == L.Layout(8, 2)


def test_integer_coordinate_of_nested_layout():
    lay = L.Layout(((2, 2), 8), ((1, 16), 2))
    # index 5: mode 0 has size 4 -> 5 % 4 = 1 -> (1, 0) -> 1; 5 // 4 = 1 in mode 1 -> 2
    assert lay(5) == 3


def test_cute_agrees_with_plain_layout_on_every_coordinate():
    shape, stride = ((2, 3), (4, 2)), ((12, 1), (3, 24))

    def build():
        lay = cute.make_layout(shape, stride=stride)
        return lay, [lay(i) for i in range(cute.size(lay))]

    got, values = L.run_cute(build)
    assert got == L.Layout(shape, stride)
    assert [got(i) for i in range(got.size)] == values


def test_cute_algebra_matches_hand_results():
    coal, comp, divided, prod = L.run_cute(lambda: (
        cute.coalesce(cute.make_layout((2, (1, 6)), stride=(1, (6, 2)))),
        cute.complement(cute.make_layout(4, stride=2), 24),
        cute.zipped_divide(cute.make_layout((8, 8), stride=(8, 1)), (2, 4)),
        cute.logical_product(cute.make_layout(2, stride=1), cute.make_layout(3, stride=1)),
    ))
    assert (coal.shape, coal.stride) == (12, 1)
    assert (comp.shape, comp.stride) == ((2, 3), (1, 8))
    # zipped_divide: mode 0 = coordinate inside a 2x4 tile, mode 1 = which tile (4 x 2 of them)
    t = L.table(divided)
    for inside in range(8):
        for tile in range(8):
            r = (inside % 2) + 2 * (tile % 4)
            c = (inside // 2) + 4 * (tile // 4)
            assert t[inside, tile] == 8 * r + c
    assert [prod(i) for i in range(prod.size)] == list(range(6))


def test_swizzle_matches_cute_on_every_coordinate():
    def build():
        sw = cute.make_composed_layout(cute.make_swizzle(3, 4, 3), 0, cute.make_layout((8, 64), stride=(64, 1)))
        return sw, [sw((i, j)) for i in range(8) for j in range(64)]

    lay, values = L.run_cute(build)
    assert lay.swizzle == (3, 4, 3)
    assert L.table(lay).ravel().tolist() == values
    # by hand: row 2, column 0 -> 128; bits [7,10) = 1 are XORed into bits [4,7) -> 144
    assert lay((2, 0)) == 144
    assert L.swizzle(128, 3, 4, 3) == 144 and L.swizzle(127, 3, 4, 3) == 127


def test_table_of_function_and_check_layout():
    L.check_layout(L.Layout((4, 8), (8, 1)), lambda i, j: 8 * i + j, name="row major", shape=(4, 8))
    with pytest.raises(CheckFailure, match="Likely mistake: column-major"):
        L.check_layout(L.Layout((4, 8), (1, 4)), L.Layout((4, 8), (8, 1)), name="x",
                       mistakes={"column-major": L.Layout((4, 8), (1, 4))})
    with pytest.raises(CheckFailure, match="mode sizes"):
        L.check_layout(L.Layout((8, 4), (4, 1)), L.Layout((4, 8), (8, 1)), name="x")
    with pytest.raises(CheckFailure, match="returned None"):
        L.check_layout(None, L.Layout((4, 8), (8, 1)), name="x")


def test_tv_table_and_plots():
    # 4 threads x 4 values over a 4x4 column-major tile: thread t owns row t
    tv = L.Layout((4, 4), (1, 4))
    thr, val = L.tv_table(tv, (4, 4))
    assert thr.tolist() == [[t] * 4 for t in range(4)]
    assert val.tolist() == [list(range(4))] * 4
    with pytest.raises(ValueError, match="owned by thread"):
        L.tv_table(L.Layout((4, 4), (1, 0)), (4, 4))
    with pytest.raises(ValueError, match="outside"):
        L.tv_table(L.Layout((4, 4), (1, 8)), (4, 4))
    ax = L.plot_layout(L.Layout((4, 8), (8, 1)), title="t")
    assert sorted(int(t.get_text()) for t in ax.texts) == list(range(32))
    ax2 = L.plot_tv_layout(tv, (4, 4))
    assert {t.get_text() for t in ax2.texts} >= {"T0\nV0", "T3\nV3"}


def test_bad_input_raises():
    with pytest.raises(ValueError, match="congruent"):
        L.Layout((4, 8), 1)
    with pytest.raises(TypeError, match="nested tuple"):
        L.Layout("4", 1)
    with pytest.raises(IndexError):
        L.Layout((4, 8), (8, 1))((4, 0))
    with pytest.raises(ValueError, match="does not match"):
        L.Layout((4, 8), (8, 1))((1, 2, 3))
    with pytest.raises(ValueError, match="give the shape"):
        L.table(lambda i: i)
    with pytest.raises(TypeError):
        L.run_cute(3)
    with pytest.raises(ValueError, match="rank-1 or rank-2"):
        L.plot_layout(L.Layout((2, 2, 2), (1, 2, 4)))
    assert np.array_equal(L.table(lambda i: 2 * i, (3,)), [0, 2, 4])


def test_inadmissible_product_is_a_python_error_not_a_dead_process():
    # CuTe DSL 4.8.1 dies with SIGFPE on this product: (4,4):(8,16) has no complement (4:16 overlaps 4:8)
    with pytest.raises(L.LayoutAlgebraError, match=r"\(4,4\):\(8,16\) has no complement.*16 \(mode 4:16\) is not "
                                                   r"a multiple of 4 x 8 = 32"):
        L.run_cute(lambda: cute.logical_product(cute.make_layout((4, 4), stride=(8, 16)),
                                                cute.make_layout((2, 4), stride=(2, 4))))
    with pytest.raises(L.LayoutAlgebraError, match="cute.blocked_product: the block"):
        L.run_cute(lambda: cute.blocked_product(cute.make_layout((2, 2), stride=(1, 1)),
                                                cute.make_layout((2, 3), stride=(3, 1))))
    with pytest.raises(L.LayoutAlgebraError, match="cute.zipped_divide: the tiler"):
        L.run_cute(lambda: cute.zipped_divide(cute.make_layout((2, 3, 4), stride=(4, 1, 8)),
                                              cute.make_layout((2, 4), stride=(2, 1))))
    with pytest.raises(L.LayoutAlgebraError, match="starts inside that span"):   # one-to-one, but interleaved
        L.run_cute(lambda: cute.complement(cute.make_layout((4, 2), stride=(6, 8)), 64))
    with pytest.raises(L.LayoutAlgebraError, match="not a whole number of spans"):
        L.run_cute(lambda: cute.complement(cute.make_layout((2, 2), stride=(1, 3)), 24))
    # the guard stays on after run_cute: a learner's own @cute.jit code is checked too (see the test below)
    from cutlass._mlir.dialects import cute as cute_ir

    assert hasattr(cute_ir.logical_product, "__wrapped__")


_RAW_JIT = r"""
import sys
import cutlass.cute as cute
from bwkit import layouts as L
if sys.argv[1] == "run_cute first":
    L.run_cute(lambda: cute.make_layout(4, stride=1))

@cute.jit
def show():
    print(cute.logical_product(cute.make_layout((4, 4), stride=(8, 16)), cute.make_layout((2, 4), stride=(2, 4))))

try:
    show()
except L.LayoutAlgebraError as e:
    print("refused:", str(e)[:80])
"""


@pytest.mark.parametrize("order", ["run_cute first", "cute imported first"])
def test_a_learners_own_cute_jit_cannot_kill_the_process(order, tmp_path):
    """Lab 05 teaches `@cute.jit` functions; the product CuTe DSL 4.8.1 dies on (SIGFPE) written in the learner's
    own jit function (not through run_cute) is refused too, once bwkit.layouts has seen CuTe."""
    import subprocess
    import sys

    script = tmp_path / "raw_jit.py"          # a file: cute.jit reads its function's source
    script.write_text(_RAW_JIT)
    res = subprocess.run([sys.executable, str(script), order], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, (res.returncode, res.stderr[-1500:])      # -8 = killed by SIGFPE
    assert "refused: cute.logical_product: the block (4,4):(8,16) has no complement" in res.stdout, res.stdout


def test_admissible_products_still_give_cutes_result():
    lprod, big, bprod, rprod, rows = L.run_cute(lambda: (
        cute.logical_product(cute.make_layout(2, stride=1), cute.make_layout(3, stride=1)),
        cute.logical_product(cute.make_layout((4, 4), stride=(1, 4)), cute.make_layout((2, 4), stride=(2, 4))),
        cute.blocked_product(cute.make_layout((2, 2), stride=(2, 1)), cute.make_layout((2, 3), stride=(3, 1))),
        cute.raked_product(cute.make_layout((2, 2), stride=(2, 1)), cute.make_layout((2, 3), stride=(3, 1))),
        cute.logical_product(cute.make_layout(4, stride=0), cute.make_layout(3, stride=1)),   # stride 0 is ignored
    ))
    assert [lprod(i) for i in range(6)] == list(range(6))
    assert (big.shape, big.stride) == (((4, 4), (2, 4)), ((1, 4), (32, 64)))
    # blocked: each 2x2 block contiguous (4 elements), blocks row-major over the 2x3 grid
    assert L.table(bprod).tolist() == [[0, 1, 4, 5, 8, 9], [2, 3, 6, 7, 10, 11],
                                       [12, 13, 16, 17, 20, 21], [14, 15, 18, 19, 22, 23]]
    assert sorted(L.table(rprod).ravel().tolist()) == list(range(24))
    assert (rows.shape, rows.stride) == ((4, 3), (0, 1))


def test_plain_complement_and_coalesce_match_cute():
    cases = [((4,), (2,), 24), ((3,), (4,), 24), ((2, 4), (4, 1), 8), ((4, 1), (2, 7), 16), ((2, 2), (1, 2), 8),
             ((3,), (4,), 10), ((2, 3), (1, 4), 48), ((4,), (0,), 8)]
    layouts = [L.Layout(s if len(s) > 1 else s[0], d if len(d) > 1 else d[0]) for s, d, _ in cases]
    got = L.run_cute(lambda: [cute.complement(cute.make_layout(x.shape, stride=x.stride), n)
                              for x, (_, _, n) in zip(layouts, cases, strict=True)])
    assert [L.complement(x, n) for x, (_, _, n) in zip(layouts, cases, strict=True)] == got
    assert L.complement(L.Layout(3, 4), 24) == L.Layout((4, 2), (1, 12))
    assert L.coalesce(L.Layout((2, (1, 6)), (1, (6, 2)))) == L.Layout(12, 1)
    assert L.coalesce(L.Layout((2, 2), (1, 4))) == L.Layout((2, 2), (1, 4))
    assert L.complement_violation(L.Layout((4, 4), (1, 4))) is None
    assert "overlap" in L.complement_violation(L.Layout((2, 2), (1, 1)))
    assert L.complement_violation(L.Layout((2, 4), (0, 1))) is None         # stride-0 modes are left out
    with pytest.raises(L.LayoutAlgebraError, match="has no complement"):
        L.complement(L.Layout((2, 3), (2, 1)), 12)
    with pytest.raises(ValueError, match="cotarget"):
        L.complement(L.Layout(4, 1), 0)
    with pytest.raises(TypeError, match="Layout"):
        L.complement_violation((4, 1))
