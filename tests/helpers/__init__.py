"""Shared test helpers: unique names, the limits the test server is configured with,
and small assertions used by the e2e and conformance suites.

Modules:
  server.py  - ServerProcess: runs `python -m prism serve` in a subprocess
  rpc.py     - raw generated stubs and status assertions (independent of prism.client)
  claims.py  - the conformance claims file: which backend claims which capability
  kvdata.py  - bulk writes and scans for KeyValue tests
  tsdata.py  - event generation, chunked appends and a reference aggregation
"""

from __future__ import annotations

import uuid

# Limits of the `mem` and `lite` namespaces of the test server (see server.py).
MAX_KEY_BYTES = 64
MAX_VALUE_BYTES = 1024
MAX_BATCH_ITEMS = 10
MAX_PAGE_ITEMS = 1000
DEFAULT_PAGE_ITEMS = 100

LIMITS = {
    "max_key_bytes": MAX_KEY_BYTES,
    "max_value_bytes": MAX_VALUE_BYTES,
    "max_batch_items": MAX_BATCH_ITEMS,
    "max_page_items": MAX_PAGE_ITEMS,
    "default_page_items": DEFAULT_PAGE_ITEMS,
}


def unique(label: str = "t") -> str:
    """A short name no other test uses: namespaces are shared by the whole session."""
    return f"{label}-{uuid.uuid4().hex[:12]}"


def chunks(seq: list, size: int) -> list[list]:
    """Split `seq` into lists of at most `size` (batch limits are small on purpose)."""
    return [seq[i : i + size] for i in range(0, len(seq), size)]
