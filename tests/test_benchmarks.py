"""The benchmark must keep running: a tiny round of it, checking only that every stream got all
of its events. Speed is reported by `make bench`, never asserted here."""

from __future__ import annotations

import subprocess
import sys

from tests.servers import ROOT


def test_benchmark_smoke_run() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--scale", "0.02", "--repeat", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    rows = [line for line in completed.stdout.splitlines() if line.startswith("| ")]
    data_rows = [row for row in rows if not row.startswith("| server")]
    assert len(data_rows) == 8, completed.stdout  # four servers, two scenarios
    assert all(row.rstrip(" |").endswith("| 0") for row in data_rows), completed.stdout
