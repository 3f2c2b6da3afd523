// Namespace detail: the spec, its version, and live charts of request rate, error rate and
// p99 latency polled from GET /v1/namespaces/{name}/stats every 2 seconds.

import { api } from "../api.js";
import { LineChart, formatNumber } from "../chart.js";
import { append, errorBox, formatTime, h } from "../dom.js";
import { takeFlash } from "./flash.js";
import { patternsOf } from "./spec.js";
import { readStats } from "./stats.js";

const POLL_MS = 2000;

export async function renderDetail(root, params, stale) {
  const ns = await api.namespace(params.name);
  if (stale()) return;
  const spec = ns.spec || {};
  const href = `#/namespaces/${encodeURIComponent(ns.name)}`;
  const flash = takeFlash();
  const charts = [
    chartCard("request-rate", "Request rate", "req/s", "#2563eb"),
    chartCard("error-rate", "Error rate", "errors/s", "#dc2626"),
    chartCard("p99-latency", "p99 latency", "ms", "#7c3aed"),
  ];
  const statsError = h("p", { class: "muted", id: "stats-status" }, "Polling stats every 2 s.");
  append(root, [
    h("div", { class: "title-row" },
      h("h1", {}, ns.name, " ",
        h("span", { class: "version", id: "ns-version", "data-version": ns.version },
          `v${ns.version}`)),
      h("div", { class: "actions" },
        h("a", { class: "button", href: `${href}/edit` }, "Edit"),
        h("a", { class: "button danger", href: `${href}/delete` }, "Delete"))),
    flash ? h("p", { class: "flash", role: "status" }, flash) : null,
    h("section", { class: "card" },
      h("dl", { class: "facts" },
        fact("Patterns", patternsOf(spec).join(", ") || "—"),
        fact("Backend", spec.backend ?? "—"),
        fact("Features", (spec.features || []).join(", ") || "none"),
        fact("Consistency", spec.consistency ?? "strong"),
        fact("Created", formatTime(ns.created_at)),
        fact("Updated", formatTime(ns.updated_at)))),
    h("section", { class: "charts" }, charts.map((c) => c.card)),
    statsError,
    h("section", { class: "card" }, h("h2", {}, "Spec"),
      h("pre", { id: "spec-json" }, JSON.stringify(spec, null, 2))),
  ]);
  const lines = charts.map((c) => new LineChart(c.canvas, { color: c.color, unit: c.unit }));

  const poll = async () => {
    try {
      const raw = await api.stats(ns.name);
      const stats = readStats(raw);
      if (stale()) return;
      [stats.requestRate, stats.errorRate, stats.p99Ms].forEach((v, i) => {
        lines[i].push(v);
        charts[i].value.textContent = `${formatNumber(lines[i].last)} ${charts[i].unit}`;
        charts[i].value.dataset.value = lines[i].last ?? ""; // the raw number, for tests
      });
      statsError.textContent = raw.proxies_scraped === 0
        ? "No proxy reports metrics yet; polling every 2 s."
        : `From ${raw.proxies_scraped} proxy metrics endpoint(s), every 2 s.`;
      statsError.className = "muted";
    } catch (err) {
      if (stale()) return;
      lines.forEach((l) => l.push(null));
      statsError.replaceChildren(errorBox(err));
    }
  };
  poll();
  const timer = setInterval(poll, POLL_MS);
  return () => clearInterval(timer);
}

function fact(label, value) {
  return [h("dt", {}, label), h("dd", {}, value)];
}

function chartCard(id, title, unit, color) {
  const canvas = h("canvas", { id: `chart-${id}`, class: "chart", width: 360, height: 160 });
  const value = h("span", { class: "chart-value" }, "—");
  const card = h("div", { class: "card chart-card" },
    h("div", { class: "chart-head" }, h("h3", {}, title), value), canvas);
  return { card, canvas, value, unit, color };
}
