"""Running the engine's server-dependent cargo tests from pytest.

Those tests are `#[ignore]`d in the plain `cargo test` of `make test-rust`, which runs
before the stack is up; pytest runs them with `-- --ignored` once the stack's servers
are there, passing each one's URL in the environment.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run_ignored(test: str, env: dict[str, str], at_least: int) -> None:
    """Run proxy/engine/tests/<test>.rs's ignored tests; assert that at least `at_least`
    of them ran and passed (a filter that matched nothing must not pass)."""
    run = subprocess.run(
        ["cargo", "test", "--workspace", "--quiet", "--test", test, "--", "--ignored"],
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    passed = re.search(r"test result: ok\. (\d+) passed; 0 failed; 0 ignored", run.stdout)
    assert passed and int(passed.group(1)) >= at_least, run.stdout[-2000:]
