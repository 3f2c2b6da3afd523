// Dashboard: namespace count, proxies (config version, health, last seen) and backends
// (claims, health), refreshed every 5 seconds.

import { api } from "../api.js";
import { badge, clear, errorBox, formatTime, h, healthOf } from "../dom.js";
import { capabilitiesOf, patternsOf } from "./spec.js";

const REFRESH_MS = 5000;
// The last health seen per backend, shown until the next check answers (no flicker).
const knownHealth = new Map();

export async function renderDashboard(root, _params, stale) {
  const body = h("div", { class: "dashboard" });
  root.append(h("h1", {}, "Dashboard"), body);
  await refresh(body, stale);
  const timer = setInterval(() => refresh(body, stale), REFRESH_MS);
  return () => clearInterval(timer);
}

// Lists first, then each backend's health as it arrives: a health check connects to the
// backend and may take seconds, and must not hold back the rest of the page.
async function refresh(body, stale) {
  const [namespaces, proxies, backends] = await Promise.allSettled([
    api.namespaces(),
    api.proxies(),
    api.backends(),
  ]);
  if (stale()) return;
  clear(body).append(
    tiles(namespaces, proxies, backends),
    h("section", { class: "card", id: "proxies" }, h("h2", {}, "Proxies"), proxyTable(proxies)),
    h("section", { class: "card", id: "backends" }, h("h2", {}, "Backends"),
      backendTable(backends)),
  );
  if (backends.status === "fulfilled") fillBackendHealth(body, backends.value, stale);
}

function tiles(namespaces, proxies, backends) {
  const count = (r) => (r.status === "fulfilled" ? String(r.value.length) : "?");
  const healthy = proxies.status === "fulfilled"
    ? proxies.value.filter((p) => healthOf(p.healthy) === "ok").length
    : "?";
  return h("div", { class: "tiles" },
    tile("Namespaces", count(namespaces), "#/namespaces", "namespace-count"),
    tile("Proxies", count(proxies), null, "proxy-count", `${healthy} healthy`),
    tile("Backends", count(backends), null, "backend-count"),
  );
}

function tile(label, value, href, id, note) {
  const inner = [h("span", { class: "tile-value", id }, value), h("span", {}, label),
    note ? h("small", { class: "muted" }, note) : null];
  return href ? h("a", { class: "tile", href }, inner) : h("div", { class: "tile" }, inner);
}

function proxyTable(result) {
  if (result.status === "rejected") return errorBox(result.reason);
  if (!result.value.length) return h("p", { class: "muted" }, "No proxy has reported yet.");
  return h("table", {},
    h("thead", {}, h("tr", {}, ["Proxy", "gRPC address", "Metrics", "Config version",
      "Last seen", "Health"].map((t) => h("th", {}, t)))),
    h("tbody", {}, result.value.map((p) => h("tr", { "data-proxy": p.id ?? "" },
      h("td", {}, h("code", {}, p.id ?? "—")),
      h("td", {}, p.address ?? "—"),
      h("td", {}, p.metrics_address ?? "—"),
      h("td", { class: "num" }, String(p.config_version ?? "—"),
        p.lag ? h("small", { class: "warn" }, ` (${p.lag} behind)`) : null),
      h("td", {}, formatTime(p.last_seen)),
      h("td", {}, badge(p.healthy)),
    ))),
  );
}

// GET /v1/backends/{name}/health: {healthy, namespaces: [{name, healthy, detail}]}. The
// admin checks a backend through the namespaces on it, so with none it checked nothing:
// that shows as "unused", not as a healthy server.
function fillBackendHealth(body, backends, stale) {
  for (const b of backends) {
    api.backendHealth(b.name).then(
      (health) => (Array.isArray(health.namespaces) && !health.namespaces.length
        ? "unused" : health),
      () => "unknown",
    ).then((health) => {
      knownHealth.set(b.name, health);
      const cell = body.querySelector(`tr[data-backend="${CSS.escape(b.name)}"] .health`);
      if (!stale() && cell) cell.replaceChildren(badge(health));
    });
  }
}

function backendTable(result) {
  if (result.status === "rejected") return errorBox(result.reason);
  if (!result.value.length) return h("p", { class: "muted" }, "No backend is installed.");
  return h("table", {},
    h("thead", {}, h("tr", {}, ["Backend", "Patterns", "Claims", "Namespaces", "Health"]
      .map((t) => h("th", {}, t)))),
    h("tbody", {}, result.value.map((b) => h("tr", { "data-backend": b.name },
      h("td", {}, h("strong", {}, b.name)),
      h("td", {}, patternsOf(b).join(", ") || "—"),
      h("td", { class: "claims" }, claimsText(b)),
      h("td", { class: "num" }, String((b.namespaces || []).length)),
      h("td", { class: "health" }, knownHealth.has(b.name) ? badge(knownHealth.get(b.name))
        : h("span", { class: "muted" }, "checking…")),
    ))),
  );
}

function claimsText(backend) {
  const caps = capabilitiesOf(backend);
  const parts = Object.entries(caps).map(([p, c]) => `${p}: ${c.join(", ")}`);
  return parts.length ? parts.join(" · ") : "—";
}
