"""What every stack service provides; api.py drives them all the same way."""

from __future__ import annotations

import shutil
import signal
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"
Say = Callable[[str], None]


@dataclass(frozen=True)
class Endpoint:
    """How a client reaches one server. external: it came from the environment variable,
    the stack did not start it."""

    name: str
    url: str
    env_var: str
    external: bool = False


class Service(ABC):
    name: str
    env_var: str
    port: int
    # Seconds: startup of a cold JVM on 2 busy cores is the slowest case (Kafka overrides).
    ready_timeout: float = 60.0
    stop_timeout: float = 30.0
    stop_signal: int = signal.SIGTERM
    # OS user the server must run as (PostgreSQL refuses root); None: the caller.
    user: str | None = None

    def url(self) -> str:
        raise NotImplementedError

    def ports(self) -> list[int]:
        """Every port the server binds, checked free before it starts."""
        return [self.port]

    def apt_packages(self) -> dict[str, str]:
        """Executables it needs -> the Debian package that ships them."""
        return {}

    def missing_packages(self) -> list[str]:
        """Debian packages to install before this service can start."""
        return [pkg for exe, pkg in self.apt_packages().items() if shutil.which(exe) is None]

    def prepare(self, data: Path, say: Say) -> None:  # noqa: B027 - optional hook
        """One-time setup of data (initdb, format, downloads). Must be idempotent: `start`
        after `stop` calls it again on the kept data."""

    @abstractmethod
    def command(self, data: Path) -> list[str]:
        """argv of the server process, in the foreground (we detach it ourselves)."""

    @abstractmethod
    def ready(self, data: Path) -> bool:
        """One real readiness probe with a client call; False (or OSError) = not yet."""

    def after_ready(self, data: Path, say: Say) -> None:  # noqa: B027 - optional hook
        """Idempotent setup that needs the running server (roles, databases)."""
