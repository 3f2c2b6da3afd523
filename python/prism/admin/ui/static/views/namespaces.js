// The namespace list: name, patterns, backend, version, last update.

import { api } from "../api.js";
import { append, formatTime, h } from "../dom.js";
import { takeFlash } from "./flash.js";
import { patternsOf } from "./spec.js";

export async function renderNamespaces(root, _params, stale) {
  const namespaces = await api.namespaces();
  if (stale()) return;
  namespaces.sort((a, b) => a.name.localeCompare(b.name));
  const flash = takeFlash();
  append(root, [
    h("div", { class: "title-row" },
      h("h1", {}, "Namespaces"),
      h("a", { class: "button", href: "#/namespaces/new" }, "New namespace")),
    flash ? h("p", { class: "flash", role: "status" }, flash) : null,
    h("section", { class: "card" }, namespaces.length
      ? h("table", { id: "namespace-table" },
        h("thead", {}, h("tr", {}, ["Name", "Patterns", "Backend", "Version", "Updated"]
          .map((t) => h("th", {}, t)))),
        h("tbody", {}, namespaces.map((ns) => h("tr", { "data-namespace": ns.name },
          h("td", {}, h("a", { href: `#/namespaces/${encodeURIComponent(ns.name)}` }, ns.name)),
          h("td", {}, patternsOf(ns.spec || {}).join(", ")),
          h("td", {}, (ns.spec || {}).backend ?? "—"),
          h("td", { class: "num" }, String(ns.version ?? "—")),
          h("td", {}, formatTime(ns.updated_at ?? ns.created_at)),
        ))))
      : h("p", { class: "muted" }, "No namespace yet. ",
        h("a", { href: "#/namespaces/new" }, "Create the first one."))),
  ]);
}
