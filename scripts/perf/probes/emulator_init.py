"""Run in the emulator's image with the function and its layers where Lambda puts them: the median wall time of a
fresh interpreter, then with Lambda's runtime client imported, then with the handler imported and initialised,
each on top of the one before; prints the three as a JSON list. Stdlib only: the image has nothing else.
Usage: python3 emulator_init.py REPEATS"""

import json
import statistics
import subprocess
import sys
import time

STEPS = ("pass", "import awslambdaric.bootstrap", "import awslambdaric.bootstrap, app")


def wall(code: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - started


repeats = int(sys.argv[1])
print(json.dumps([statistics.median(wall(step) for _ in range(repeats)) for step in STEPS]))
