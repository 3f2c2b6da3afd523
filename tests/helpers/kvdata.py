"""Bulk writes and full scans for KeyValue tests, written once for every suite."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from prism.client import Page, PutEntry

from . import MAX_BATCH_ITEMS, chunks

MAX_PAGES = 100_000  # a scan that never ends is a bug, not a slow test


def bulk_put(
    kv: Any, items: list[tuple[bytes, bytes]], *, use_batch: bool = True, workers: int = 8
) -> dict[bytes, int]:
    """Write every item (batched within the batch limit, in parallel); key -> version."""

    def write(group: list[tuple[bytes, bytes]]) -> list[int]:
        if use_batch:
            return list(kv.batch_put([PutEntry(k, v) for k, v in group]))
        return [kv.put(k, v) for k, v in group]

    versions: dict[bytes, int] = {}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        groups = chunks(items, MAX_BATCH_ITEMS)
        for group, result in zip(groups, pool.map(write, groups), strict=True):
            assert len(result) == len(group), f"{len(result)} versions for {len(group)} puts"
            versions.update({k: v for (k, _), v in zip(group, result, strict=True)})
    return versions


def scan_pages(kv: Any, **kwargs: Any) -> list[Page]:
    """Every page of one scan, following page tokens until the empty token."""
    pages: list[Page] = []
    token = ""
    for _ in range(MAX_PAGES):
        page = kv.scan(page_token=token, **kwargs)
        pages.append(page)
        token = page.next_page_token
        if not token:
            return pages
    raise AssertionError(f"scan did not finish within {MAX_PAGES} pages")


def page_bytes(page: Page) -> int:
    return sum(len(i.key) + len(i.value) for i in page.items)
