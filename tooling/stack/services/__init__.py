"""The four servers of the stack, in start order."""

from __future__ import annotations

from .base import Endpoint, Service
from .kafka import Kafka
from .nats import Nats
from .postgres import Postgres
from .redis import Redis

SERVICES: dict[str, Service] = {s.name: s for s in (Postgres(), Redis(), Nats(), Kafka())}

__all__ = ["SERVICES", "Endpoint", "Service"]
