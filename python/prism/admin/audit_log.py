"""Admin mutations as JSON lines (ADR-010), beside the audit table.

One line per committed mutation: `{"ts", "actor", "action", "target"}`. Specs are left
out (the table keeps before and after): a line says who changed what, never the config
or a secret, so the file can go to a log pipeline as is. Lines are appended under a lock
with one write each, so concurrent requests never interleave within a line.
"""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime
from pathlib import Path

ENV = "PRISM_ADMIN_AUDIT_PATH"


class AuditLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, actor: str, action: str, target: str) -> None:
        line = json.dumps(
            {
                "ts": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "actor": actor,
                "action": action,
                "target": target,
            },
            ensure_ascii=False,
        )
        data = (line + "\n").encode("utf-8")
        with self._lock:
            # O_APPEND: whole lines even when another process appends to the same file.
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                os.write(fd, data)
            finally:
                os.close(fd)
