"""The shipper of a `prism serve` / `prism proxy` process: a daemon thread with its own
asyncio loop, started when `server.audit.kafka` is set and stopped after the core has
closed its audit file (so the final lines are in it), with a bounded final drain.

It ships `server.audit.path` and, when PRISM_ADMIN_AUDIT_PATH is set in the process's
environment, the admin's mutation lines too (one checkpoint per file).
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Mapping
from pathlib import Path

from prism.audit.follow import FileFollower
from prism.audit.shipper import CLOSE_TIMEOUT_S, AuditShipper
from prism.security_config import AuditConfig

log = logging.getLogger(__name__)

ADMIN_AUDIT_ENV = "PRISM_ADMIN_AUDIT_PATH"  # as prism.admin.settings.AUDIT_PATH_ENV
#: How long a shutdown waits for the last lines to reach Kafka. When Kafka is down the
#: shipper returns at once; this bounds a broker that stops answering mid-batch.
DRAIN_TIMEOUT_S = 5.0


class ShipperThread:
    """Runs one AuditShipper on a thread of its own."""

    def __init__(self, shipper: AuditShipper) -> None:
        self.shipper = shipper
        self.drained = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[bool] | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, name="prism-audit-shipper", daemon=True)

    def start(self) -> ShipperThread:
        self.shipper.open_files()
        self._thread.start()
        self._ready.wait()
        return self

    def stop(self, timeout: float = DRAIN_TIMEOUT_S) -> bool:
        """Ship what the files hold (up to `timeout`), then stop; True when all was
        shipped. What was not stays in the files, the checkpoint just before it."""
        loop = self._loop
        if loop is None or not self._thread.is_alive():
            return self.drained
        try:
            loop.call_soon_threadsafe(self.shipper.request_stop)
        except RuntimeError:  # the loop already closed
            return self.drained
        self._thread.join(timeout)
        if self._thread.is_alive() and self._task is not None:
            log.warning(
                "audit shipper: Kafka did not take the last audit lines within %.0f s; "
                "they stay in the files for the next start",
                timeout,
            )
            try:
                loop.call_soon_threadsafe(self._task.cancel)
            except RuntimeError:
                pass
            self._thread.join(CLOSE_TIMEOUT_S + 1.0)
        return self.drained

    def _main(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            self._task = loop.create_task(self.shipper.run())
            self._ready.set()
            self.drained = loop.run_until_complete(self._task)
        except asyncio.CancelledError:
            pass
        except Exception:  # a bug: say so, the data plane keeps serving
            log.exception("audit shipper: stopped by an unexpected error")
        finally:
            self._ready.set()
            loop.close()


def start_for(audit: AuditConfig, env: Mapping[str, str] | None = None) -> ShipperThread | None:
    """The running shipper for `server.audit`, or None when `kafka` is not set."""
    kafka = audit.kafka
    if kafka is None or not audit.path:
        return None
    env = os.environ if env is None else env
    paths = [Path(audit.path)]
    if env.get(ADMIN_AUDIT_ENV):
        paths.append(Path(env[ADMIN_AUDIT_ENV]).expanduser().absolute())
    followers = [FileFollower(p, use_checkpoint=kafka.checkpoint) for p in paths]
    shipper = AuditShipper(
        followers,
        kafka.bootstrap_servers,
        kafka.topic,
        backlog_warn_bytes=kafka.backlog_warn_bytes,
    )
    log.info(
        "audit shipper: %s to Kafka topic %s at %s",
        ", ".join(str(p) for p in paths),
        kafka.topic,
        ",".join(kafka.bootstrap_servers),
    )
    return ShipperThread(shipper).start()
