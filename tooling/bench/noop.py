"""Lane D's no-op plugin (tooling/bench/noop_plugin), visible to the bench's gateway only.

The plugin registry finds backends through the `prism.backends` entry points of installed
distributions. Installing the no-op plugin into the venv would make it a backend of every
gateway and test run there, so the bench instead gives its own gateway process a
PYTHONPATH with the package and a minimal `.dist-info` that declares the entry point:
importlib.metadata finds it in that process, and nowhere else.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parent / "noop_plugin"
BACKEND = "bench_noop"


def gateway_env(workdir: Path) -> dict[str, str]:
    """Environment entries for a gateway that can load the `bench_noop` backend."""
    info = workdir / "noop-site" / "prism_bench_noop-0.1.0.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: prism-bench-noop\nVersion: 0.1.0\n"
    )
    (info / "entry_points.txt").write_text(
        f"[prism.backends]\n{BACKEND} = prism_bench_noop.plugin:NoopPlugin\n"
    )
    paths = [str(PACKAGE_ROOT), str(info.parent)]
    if os.environ.get("PYTHONPATH"):
        paths.append(os.environ["PYTHONPATH"])
    return {"PYTHONPATH": os.pathsep.join(paths)}
