"""Test session setup: the CPU path uses the Triton interpreter, chosen before triton is imported."""

import bwkit

RT = bwkit.setup(quiet=True)
