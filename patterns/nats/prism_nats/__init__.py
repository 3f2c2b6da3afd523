"""Prism backend plugin for NATS JetStream: KeyValue on a KV bucket, TimeSeries on a stream.

Registered as the `nats` entry point of the `prism.backends` group.
"""

from prism_nats.config import NatsConfig
from prism_nats.plugin import NatsPlugin

__all__ = ["NatsConfig", "NatsPlugin"]
