"""Where the stack lives and what it has started: `<stack dir>/state.json`.

The state file records, per service, the pid and the kernel start time of its process, so
that a later `status` or `down` (another process, maybe another day) can tell our server
from an unrelated process that reused the pid. Read-modify-write happens under an flock
because `up` starts services from several threads and a test may run beside the CLI.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
STATE_FILE = "state.json"


def stack_dir() -> Path:
    """`$PRISM_STACK_DIR`, else `<repo>/.prism-stack` (git-ignored) when other users can
    reach it, else a directory under /var/tmp named after the repository."""
    override = os.environ.get("PRISM_STACK_DIR")
    if override:
        return Path(override).resolve()
    if _reachable_by_others(REPO_ROOT):
        return REPO_ROOT / ".prism-stack"
    # As root, PostgreSQL runs as the `postgres` user, which must traverse every parent
    # of its data directory; a clone inside a private (0700) directory, as `mktemp -d`
    # makes, would make initdb fail with "Permission denied".
    tag = hashlib.sha256(str(REPO_ROOT).encode()).hexdigest()[:12]
    return Path("/var/tmp") / f"prism-stack-{tag}"


def _reachable_by_others(path: Path) -> bool:
    """Whether every directory from / down to `path` lets other users traverse it."""
    if os.geteuid() != 0:
        return True  # every service then runs as this user
    return all(os.stat(p).st_mode & 0o001 for p in [path, *path.parents])


@dataclass(frozen=True)
class Record:
    """One started server process."""

    name: str
    pid: int
    start_ticks: int  # /proc/<pid>/stat field 22: tells a reused pid apart
    port: int
    log: str
    argv: list[str]


@contextmanager
def _locked(root: Path) -> Iterator[None]:
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".state.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _read(root: Path) -> dict[str, Record]:
    try:
        raw = json.loads((root / STATE_FILE).read_text())
    except (FileNotFoundError, NotADirectoryError):
        return {}
    return {name: Record(**rec) for name, rec in raw.items()}


def load(root: Path) -> dict[str, Record]:
    # No lock: put() replaces the file atomically, and a reader must not create the stack
    # dir (the lock file would) while `down` is deleting it.
    return _read(root)


def put(root: Path, name: str, record: Record | None) -> None:
    """Record (or, with None, forget) the process of one service."""
    with _locked(root):
        records = _read(root)
        if record is None:
            records.pop(name, None)
        else:
            records[name] = record
        tmp = root / (STATE_FILE + ".tmp")
        tmp.write_text(json.dumps({n: asdict(r) for n, r in records.items()}, indent=2) + "\n")
        tmp.replace(root / STATE_FILE)  # atomic: a reader never sees half a file
