"""KeyValue is deliberately NOT served by the Kafka backend.

A Kafka topic is an append-only log: there is no read of one key without scanning, no
conditional write (if_absent / if_version need a read-check-write that Kafka cannot make
atomic), no delete other than tombstones plus compaction, and no ordered key scan. A
KeyValue namespace on Kafka would be slow and could not honour the pattern's CAS rules,
so the plugin does not list "keyvalue" in `KafkaPlugin.patterns`, and `prism serve`
refuses such a namespace at config validation ("namespaces[i].patterns: backend 'kafka'
does not serve keyvalue"). Use postgres, redis, nats or sqlite for KeyValue.
"""

from __future__ import annotations

#: Why the pattern is refused; shown in docs and kept next to the decision.
NOT_SERVED_REASON = (
    "kafka is an append-only log: no point reads, conditional writes or ordered key scans"
)
