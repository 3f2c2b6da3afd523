"""The local stack's fixed ports lie outside the kernel's ephemeral port range.

A port inside it can be taken at any moment by any outgoing connection or `bind(0)` (the
tests make hundreds), and then a server of the stack fails to start with "address already
in use": a CI run lost Kafka's 59092 that way, so the stack moved below 32768 (ADR-007).
"""

from __future__ import annotations

from pathlib import Path

from tooling.stack.services import SERVICES


def test_no_stack_port_is_an_ephemeral_port() -> None:
    low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    ports = {
        f"{service.name}.{attr}": value
        for service in SERVICES.values()
        for attr in dir(service)
        if attr.endswith("port") and isinstance(value := getattr(service, attr), int)
    }
    assert len(ports) >= len(SERVICES), ports  # every service has at least its port
    inside = {name: port for name, port in ports.items() if low <= port <= high}
    assert not inside, f"stack ports inside the ephemeral range {low}-{high}: {inside}"


def test_the_test_servers_ports_are_neither_ephemeral_nor_the_stacks() -> None:
    from tooling.ports import LISTEN_RANGE, free_listen_port

    low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    first, last = LISTEN_RANGE
    assert last < low or first > high, f"{LISTEN_RANGE} overlaps the ephemeral {low}-{high}"
    stack = {
        getattr(service, attr)
        for service in SERVICES.values()
        for attr in dir(service)
        if attr.endswith("port") and isinstance(getattr(service, attr), int)
    }
    assert not {p for p in stack if first <= p <= last}, "a stack port is in LISTEN_RANGE"
    handed = [free_listen_port() for _ in range(50)]
    assert len(set(handed)) == 50 and all(first <= p <= last for p in handed)
