"""Test session setup: the CPU path (Triton interpreter, chosen before triton is imported).

The suite tests the CPU path on every machine, GPU machines included, so that its results are the same
everywhere; `make test-gpu` (run by `make test` when a GPU is present) covers the native path. Set
BWKIT_TEST_GPU=1 to run these tests on the GPU path instead.
"""

import os

if os.environ.get("BWKIT_TEST_GPU") != "1":
    os.environ["BWKIT_FORCE_CPU"] = "1"

import bwkit  # noqa: E402

RT = bwkit.setup(quiet=True)
