"""Check that generated labs fail only at their exercise cells: `python tools/labcheck.py labs/NN_x.ipynb ...`."""

import sys

from bwkit.kit.execute import check_lab

if __name__ == "__main__":
    bad = 0
    for p in sys.argv[1:]:
        problems = check_lab(p)
        print(f"{'✅' if not problems else '❌'} {p}")
        for line in problems:
            print("   " + line)
        bad += bool(problems)
    sys.exit(1 if bad else 0)
