"""bwkit.layouts on bad input: clear errors naming the argument (audit findings 8, 10, 11, 12, 16), and a
closed-form cosize that agrees with evaluating every coordinate."""

import random

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from bwkit import layouts as L  # noqa: E402

LAY8 = L.Layout((4, 8), (8, 1))
TV = L.Layout((4, 2), (2, 1))

BAD = [
    # 8: float sizes of a table were truncated
    ("table float size", lambda: L.table(lambda i, j: i * 8 + j, shape=(4, 8.7)), ValueError,
     r"table: shape\[1\] must be a positive int, got 8.7"),
    ("table negative size", lambda: L.table(lambda i, j: i * 8 + j, shape=(4, -8)), ValueError,
     r"table: shape\[1\] must be a positive int, got -8"),
    ("table zero size", lambda: L.table(lambda i: i, shape=(0,)), ValueError, r"shape\[0\] must be a positive int"),
    ("table size as text", lambda: L.table(lambda i: i, shape=("8",)), ValueError, "typed as text"),
    ("table float size of a Layout", lambda: L.table(LAY8, shape=(4, 8.0)), ValueError, r"a float: pass 8"),
    ("table shape a float", lambda: L.table(lambda i: i, shape=4.5), TypeError, "table: shape must be a sequence"),
    ("table empty shape", lambda: L.table(lambda i: i, shape=()), ValueError, "at least one mode"),
    # 10: colors <= 0 drew a chart; a negative offset gave negative indices
    ("plot colors 0", lambda: L.plot_layout(LAY8, colors=0), ValueError,
     "plot_layout: colors must be a positive int, got 0"),
    ("plot colors -3", lambda: L.plot_layout(LAY8, colors=-3), ValueError, "colors must be a positive int, got -3"),
    ("plot colors 2.5", lambda: L.plot_layout(LAY8, colors=2.5), ValueError, "colors must be a positive int"),
    ("negative offset", lambda: L.Layout((4, 8), (8, 1), offset=-40), ValueError,
     "Layout.offset must be an int >= 0, got -40: .*negative indices"),
    ("float offset", lambda: L.Layout((4, 8), (8, 1), offset=1.5), ValueError, "Layout.offset must be an int >= 0"),
    # 11: a swizzled layout's cosize still evaluates every coordinate: capped like table
    ("huge swizzled cosize", lambda: L.Layout((65536, 65536), (1, 65536), swizzle=(3, 4, 3)).cosize(), ValueError,
     "cosize: .* 4,294,967,296 coordinates"),
    # 12: a float coordinate was reported as "more modes" or "has no len()"
    ("float coordinate", lambda: LAY8(2.0), TypeError, "coordinate 2.0 is a float; a coordinate must be an int"),
    ("float in a coordinate", lambda: LAY8((1, 2.0)), TypeError, r"coordinate 2.0 is a float.*pass 2"),
    ("float in a nested coordinate", lambda: L.Layout(((2, 2), 8), ((1, 16), 2))((1.5, 3)), TypeError,
     "coordinate 1.5 is a float"),
    ("str coordinate", lambda: LAY8("1"), TypeError, r"coordinate '1' \(str\) must be an int or a tuple of ints"),
    ("bool coordinate", lambda: LAY8(True), TypeError, "must be an int or a tuple of ints"),
    ("tuple for an int mode", lambda: LAY8(((1, 0), 2)), ValueError, "has more modes than the shape 4"),
    # 16: raw unpacking / index errors
    ("tv_table 1-element tile", lambda: L.tv_table(TV, (8,)), ValueError,
     r"tv_table: tile_mn must be a pair \(M, N\) of positive ints, got \(8,\)"),
    ("tv_table int tile", lambda: L.tv_table(TV, 8), ValueError, "tv_table: tile_mn must be a pair"),
    ("tv_table float tile", lambda: L.tv_table(TV, (4, 2.0)), ValueError,
     r"tv_table: tile_mn\[1\] \(N\) must be a positive int, got 2.0"),
    ("plot_tv_layout 3-element tile", lambda: L.plot_tv_layout(TV, (4, 2, 1)), ValueError,
     "plot_tv_layout: tile_mn must be a pair"),
    ("mode out of range", lambda: LAY8.mode(2), IndexError, r"has rank 2 \(modes 0 to 1\): it has no mode 2"),
    ("mode -3", lambda: LAY8.mode(-3), IndexError, "no mode -3"),
    ("mode float", lambda: LAY8.mode(1.0), TypeError, "mode: i must be an int"),
    ("mode of an int shape", lambda: L.Layout(8, 1).mode(1), IndexError, "layout of rank 1 has no mode 1"),
    # swizzle arguments (same module): raw shift errors before
    ("swizzle float B", lambda: L.Layout((4, 8), (8, 1), swizzle=(3.0, 4, 3)), TypeError,
     r"swizzle B \(bits\) must be an int, got 3.0"),
    ("swizzle negative B", lambda: L.Layout((4, 8), (8, 1), swizzle=(-1, 4, 3)), ValueError,
     "swizzle bits and base must be >= 0"),
    ("swizzle not a triple", lambda: L.Layout((4, 8), (8, 1), swizzle=3), ValueError, r"swizzle must be \(B, M, S\)"),
    ("swizzle() float shift", lambda: L.swizzle(5, 3, 4, 3.5), TypeError, r"swizzle S \(shift\) must be an int"),
    ("swizzle() float index", lambda: L.swizzle(5.0, 3, 4, 3), TypeError, "swizzle: the index x must be an int"),
]


@pytest.mark.parametrize(("what", "call", "exc", "match"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_refused_clearly(what, call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def _brute_cosize(lay: L.Layout) -> int:
    return 1 + max(lay(i) for i in range(lay.size))


def test_cosize_closed_form_is_fast_and_exact():
    assert L.Layout((65536, 65536), (1, 65536)).cosize() == 65536 * 65536      # finding 11: was a hang
    assert L.Layout((4, 8), (8, 1)).cosize() == 32
    assert L.Layout(((2, 2), 8), ((1, 16), 2)).cosize() == 1 + 1 + 16 + 14
    assert L.Layout(4, -2).cosize() == 1                  # largest index is 0 (CuTe's layout(size-1)+1 would be -5)
    assert L.Layout((4, 4), (0, 1), offset=3).cosize() == 7
    rng = random.Random(5)
    for _ in range(300):
        shape = tuple((rng.randint(1, 4), rng.randint(1, 3)) if rng.random() < 0.3 else rng.randint(1, 5)
                      for _ in range(rng.randint(1, 3)))
        stride = tuple(tuple(rng.randint(-5, 9) for _ in s) if isinstance(s, tuple) else rng.randint(-5, 9)
                       for s in shape)
        lay = L.Layout(shape, stride, offset=rng.choice([0, 0, 7]))
        assert lay.cosize() == _brute_cosize(lay), lay
    sw = L.Layout((8, 64), (64, 1), swizzle=(3, 4, 3))
    assert sw.cosize() == _brute_cosize(sw) == 512


def test_valid_inputs_still_work():
    assert LAY8(np.int64(9)) == LAY8(9) and LAY8([1, 2]) == LAY8((1, 2)) == 10
    assert LAY8.mode(-1) == L.Layout(8, 1)
    assert L.table(lambda i: 2 * i, shape=4).tolist() == [0, 2, 4, 6]
    assert L.table(LAY8, shape=(np.int64(4), 8)).shape == (4, 8)
    thr, _ = L.tv_table(L.Layout((4, 2), (1, 4)), (np.int64(4), 2))
    assert thr.tolist() == [[0, 0], [1, 1], [2, 2], [3, 3]]
    assert L.Layout(4, 1, offset=np.int64(2))(1) == 3
