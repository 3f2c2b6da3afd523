"""Scrape every registered proxy's /metrics for one namespace and keep the previous
sample in memory, so each call returns rates over the time since the last call."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from prism.admin.metrics_text import Sample, delta, parse, quantile

SCRAPE_TIMEOUT_S = 1.0


class StatsScraper:
    def __init__(self) -> None:
        self._previous: dict[str, tuple[float, Sample]] = {}

    async def stats(self, namespace: str, metrics_addresses: list[str]) -> dict[str, Any]:
        async with httpx.AsyncClient(timeout=SCRAPE_TIMEOUT_S, trust_env=False) as client:
            texts = await asyncio.gather(*(_scrape(client, a) for a in metrics_addresses))
        total = Sample()
        for text in texts:
            if text is not None:
                total.add(parse(text, namespace))
        at = time.time()
        previous = self._previous.get(namespace)
        self._previous[namespace] = (at, total)
        window = delta(total, previous[1] if previous else None)
        elapsed = at - previous[0] if previous else 0.0
        return {
            "namespace": namespace,
            # None until a second sample exists: a rate needs an interval.
            "request_rate": window.requests / elapsed if elapsed > 0 else None,
            "error_rate": window.errors / elapsed if elapsed > 0 else None,
            "p99_seconds": quantile(window.buckets, 0.99),
            "requests_total": total.requests,
            "errors_total": total.errors,
            "proxies_scraped": sum(t is not None for t in texts),
            "at": at,
        }


async def _scrape(client: httpx.AsyncClient, address: str) -> str | None:
    try:
        response = await client.get(f"http://{address}/metrics")
    except (httpx.HTTPError, httpx.InvalidURL, ValueError):
        return None  # a proxy that is down contributes nothing
    return response.text if response.status_code == 200 else None
