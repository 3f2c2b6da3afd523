"""Prism backend plugin for Redis: KeyValue and TimeSeries under one key prefix.

Registered as the `redis` entry point of the `prism.backends` group.
"""

from prism_redis.config import RedisConfig
from prism_redis.plugin import RedisPlugin

__all__ = ["RedisConfig", "RedisPlugin"]
