"""A short run of `make soak` (the long one runs 1000 streams for two minutes): clients leaving
and resuming at random, then nothing may be left behind on the server."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.support.servers import ROOT


def test_short_soak_leaves_nothing_behind() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.soak", "--streams", "100", "--seconds", "6", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    assert report["errors"] == 0, report["first_errors"]
    assert report["events_delivered"] > 1000
    assert report["connections"] > 120  # clients did leave and come back
    assert report["tasks_left_over"] <= 0  # fewer is fine: the warm-up's keep-alives ended
    assert report["finally_not_run"] == 0
