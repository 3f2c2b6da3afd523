"""Shipping the audit log's JSON lines to Kafka (ADR-010, `server.audit.kafka`).

The Rust core and the admin write audit lines to files; the optional Kafka copy is made
here, off the hot path, by following those files: `follow` (a rotation-aware tail with
an offset checkpoint), `shipper` (the producer loop, at least once, keyed by namespace)
and `background` (a thread with its own asyncio loop for `prism serve` / `prism proxy`).
"""
