"""The PNG chart of one bench run: throughput and latency per lane (matplotlib, Agg)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display: write files only

import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)

OPEN_FIELDS = (("p50", "lat_p50_us"), ("p99", "lat_p99_us"), ("p99.9", "lat_p999_us"))


def draw(path: Path, meta: dict[str, Any], lanes: dict[str, dict[str, Any]]) -> None:
    """Three panels: saturation req/s, saturation mean latency, open-loop percentiles.
    Log scales, because the lanes span from ~100 to ~100,000 req/s."""
    ok = {name: lane for name, lane in lanes.items() if "error" not in lane}
    names = list(ok)
    fig, (rps_ax, lat_ax, open_ax) = plt.subplots(
        1, 3, figsize=(18, max(4.0, 0.45 * len(names) + 1.5)), constrained_layout=True
    )
    ys = range(len(names))
    rps = [float(ok[n]["rps"]) for n in names]
    rps_ax.barh(ys, rps, color="#3b75af")
    rps_ax.set_xscale("log")
    rps_ax.set_yticks(list(ys), names)
    rps_ax.invert_yaxis()
    rps_ax.set_xlabel("requests / s (saturation, log)")
    for y, value in zip(ys, rps, strict=True):
        rps_ax.annotate(
            f"{value:,.0f}",
            (value, y),
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
        )

    mean = [float(ok[n].get("lat_mean_us") or 0) for n in names]
    lat_ax.barh(ys, mean, color="#e0823d")
    lat_ax.set_xscale("log")
    lat_ax.set_yticks(list(ys), names)
    lat_ax.invert_yaxis()
    lat_ax.set_xlabel(f"mean latency us at saturation ({meta['clients']} clients, log)")

    open_names = [n for n in names if "open" in ok[n]]
    width = 0.8 / len(OPEN_FIELDS)
    for i, (label, field) in enumerate(OPEN_FIELDS):
        xs = [j + (i - 1) * width for j in range(len(open_names))]
        open_ax.bar(xs, [float(ok[n]["open"][field]) for n in open_names], width, label=label)
    open_ax.set_xticks(list(range(len(open_names))), open_names)
    open_ax.set_yscale("log")
    open_ax.set_ylabel("latency us from intended send time (log)")
    open_ax.set_title(f"open loop at {meta.get('open_rate', 1000):,.0f} rps", fontsize=10)
    open_ax.legend()

    fig.suptitle(f"Prism bench ({meta['mode']}) {meta['date']} - {meta['machine']}", fontsize=10)
    fig.savefig(path, dpi=100)
    plt.close(fig)
