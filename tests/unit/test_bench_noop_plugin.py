"""Lane D's no-op plugin is a backend of the bench's gateway process and of no other."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from prism.plugins.registry import available_backends

from tooling.bench import noop


def test_only_a_process_given_the_bench_env_finds_the_plugin(tmp_path: Path) -> None:
    probe = (
        "import asyncio\n"
        "from prism.plugins.registry import available_backends, load_backend\n"
        "cls = load_backend('bench_noop')\n"
        "p = cls('ns', {})\n"
        "async def main():\n"
        "    await p.start()\n"
        "    [[(version, _)]] = await p.put_many([[(b'k', b'v', None, False, 0)]])\n"
        "    [item, missing] = await p.get_many([b'k', b'x'])\n"
        "    assert item == (b'k', b'v', version, None) and missing is None, item\n"
        "asyncio.run(main())\n"
        "print(' '.join(available_backends()))\n"
    )
    env = {**os.environ, **noop.gateway_env(tmp_path)}
    run = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    assert noop.BACKEND in run.stdout.split()
    assert noop.BACKEND not in available_backends(), "the venv itself must not have it"
