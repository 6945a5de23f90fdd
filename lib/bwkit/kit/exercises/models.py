"""Arithmetic that the exercises of several labs check, written once with the knobs their mistakes turn.

    waves(M, N, BLOCK_M, BLOCK_N, slots)                      # (tiles, waves, wave efficiency): 03.8 and 06.3
    waves(M, N, BLOCK_M, BLOCK_N, slots, tiles_round=math.floor)   # the ragged edge dropped
    waves(M, N, BLOCK_M, BLOCK_N, slots, waves_round=one_too_many)  # tiles // slots + 1
"""

from __future__ import annotations

import math
from collections.abc import Callable

__all__ = ["waves", "one_too_many"]


def one_too_many(w: float) -> int:
    """`floor(w) + 1`, the classic stand-in for ceil (`tiles // slots + 1`): one too many when w is whole."""
    return math.floor(w) + 1


def waves(M: int, N: int, block_m: int, block_n: int, slots: int, *,
          tiles_round: Callable[[float], int] = math.ceil,
          waves_round: Callable[[float], float] = math.ceil) -> tuple[int, float, float]:
    """(tiles, waves, tiles / (waves x slots)) of an M x N output cut into block_m x block_n tiles, `slots` at a
    time. Both counts round up; `tiles_round` / `waves_round` model the answers that round them otherwise."""
    tiles = tiles_round(M / block_m) * tiles_round(N / block_n)
    full = waves_round(tiles / slots)
    return tiles, full, tiles / (full * slots)
