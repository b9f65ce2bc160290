"""Run a command and report its wall time, exit status and peak RSS (benchmark helper).

    python -m benchmarks.peak_rss RESULT.json -- CMD ARG...

Why a separate launcher: Linux charges a forked child with the RSS its parent
had at fork time (``ru_maxrss`` is a high-water mark that survives ``exec``),
so a child of the benchmark driver, which holds the kernel outputs in memory,
would report the driver's size.  Forked from this small process instead, the
floor is this interpreter's ~10 MB.  The child's stdout is discarded; stderr
is inherited.
"""

from __future__ import annotations

import json
import os
import sys
import time


def main(argv) -> int:
    result_path, sep, *cmd = argv
    if sep != "--" or not cmd:
        print("usage: python -m benchmarks.peak_rss RESULT.json -- CMD ARG...", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # child: silence stdout, become the command
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        try:
            os.execvp(cmd[0], cmd)
        finally:
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    seconds = time.perf_counter() - t0
    with open(result_path, "w") as fh:
        json.dump({"seconds": seconds, "returncode": os.waitstatus_to_exitcode(status),
                   "peak_rss_mb": usage.ru_maxrss / 1024.0}, fh)  # ru_maxrss is in KiB on Linux
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
