"""What the bench scripts share: the cost of ``ip netns exec`` and one line of medians per case."""

from __future__ import annotations

import statistics
import subprocess
import time

from tests.lab import Lab


def namespace_overhead(lab: Lab, runs: int) -> float:
    """What ``ip netns exec`` into the lab's node costs (median ms), subtracted from every figure."""
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(["ip", "netns", "exec", lab.node, "true"], check=True)
        timings.append((time.perf_counter() - start) * 1000)
    return statistics.median(timings)


def report(label: str, timings: list[float], overhead: float, width: int = 44) -> float:
    """Print the median, min and max of ``timings`` (ms) less ``overhead``; the median."""
    median = statistics.median(timings) - overhead
    print(f"{label:<{width}} median {median:6.1f} ms   min {min(timings) - overhead:6.1f}   "
          f"max {max(timings) - overhead:6.1f}", flush=True)
    return median
