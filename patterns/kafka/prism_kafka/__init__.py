"""Prism backend plugin for Apache Kafka: TimeSeries on one topic per namespace.

Registered as the `kafka` entry point of the `prism.backends` group. KeyValue is not
served (see keyvalue.py).
"""

from prism_kafka.config import KafkaConfig
from prism_kafka.plugin import KafkaPlugin

__all__ = ["KafkaConfig", "KafkaPlugin"]
