"""Every acknowledged write on SQLite survives SIGTERM and a restart of `prism serve`."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import timedelta

from helpers import chunks, unique
from helpers.kvdata import bulk_put
from helpers.server import ServerProcess
from helpers.tsdata import append_all, base_time, content, ident, random_events
from prism.client import PrismClient


def test_acknowledged_writes_survive_restart(
    server_factory: Callable[..., ServerProcess],
) -> None:
    proc = server_factory()
    prefix, series = unique("durable"), unique("durable-series")
    items = [(f"{prefix}/{i:03d}".encode(), f"value-{i}".encode()) for i in range(500)]
    events = random_events(series, 500, base_time(), timedelta(minutes=5), random.Random(11))
    with PrismClient(proc.address, timeout=10.0) as c:
        kv, ts = c.kv("lite"), c.ts("lite")
        # Half single puts, half batches: both paths must be durable when acknowledged.
        versions = {k: kv.put(k, v) for k, v in items[:250]}
        versions.update(bulk_put(kv, items[250:]))
        assert append_all(ts, events).appended == 500
    assert (proc.data_dir / "lite.db").exists(), "sqlite file not at <data_dir>/lite.db"

    proc.restart()  # SIGTERM (asserting exit 0), then start on the same data dir

    with PrismClient(proc.address, timeout=10.0) as c:
        kv, ts = c.kv("lite"), c.ts("lite")
        found = {}
        for group in chunks([k for k, _ in items], 10):
            found.update(kv.batch_get(group))
        lost = [
            k
            for k, v in items
            if k not in found or (found[k].value, found[k].version) != (v, versions[k])
        ]
        assert not lost, f"{len(lost)} of 500 acknowledged puts lost or changed: {lost[:3]}"
        got = list(ts.query_all(series))
        assert [content(e) for e in got] == [content(e) for e in sorted(events, key=ident)]
