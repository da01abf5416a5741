"""Helpers shared by the benchmarks: wall time and sampled peak memory of a stage."""

from __future__ import annotations

import os
import threading
import time

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss() -> int:
    """Resident set size of this process, bytes."""
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * PAGE


class Stage:
    """Context manager: wall time (``seconds``) and peak RSS (``peak``, sampled every 20 ms) of its body."""

    def __init__(self, name: str, quiet: bool = False):
        self.name = name
        self.quiet = quiet

    def __enter__(self):
        self.peak, self.running = rss(), True
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        self.start = time.perf_counter()
        return self

    def _sample(self):
        while self.running:
            self.peak = max(self.peak, rss())
            time.sleep(0.02)

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start
        self.running = False
        self.thread.join()
        self.peak = max(self.peak, rss())
        if not self.quiet:
            print(f"{self.name:<10} {self.seconds:8.1f} s   peak RSS {self.peak / 2**30:6.2f} GiB", flush=True)
