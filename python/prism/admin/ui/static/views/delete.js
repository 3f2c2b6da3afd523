// Delete a namespace after an explicit confirmation; dropping the backend data
// (deprovision) is a separate, unchecked-by-default choice that also needs the name typed.

import { api } from "../api.js";
import { errorBox, h } from "../dom.js";
import { setFlash } from "./flash.js";

export async function renderDelete(root, params, stale) {
  const ns = await api.namespace(params.name);
  if (stale()) return;
  const href = `#/namespaces/${encodeURIComponent(ns.name)}`;
  const confirmName = h("input", { name: "confirm", id: "f-confirm", spellcheck: "false",
    autocomplete: "off", placeholder: ns.name });
  const deprovision = h("input", { type: "checkbox", name: "deprovision", id: "f-deprovision" });
  const error = h("div", { id: "delete-error" });
  const button = h("button", { type: "submit", class: "danger", id: "confirm-delete",
    disabled: true }, "Delete namespace");
  const form = h("form", { id: "delete-form", autocomplete: "off" },
    h("p", {}, "Proxies stop serving ", h("strong", {}, ns.name),
      " within about a second. This cannot be undone."),
    h("label", { class: "check" }, deprovision,
      " Also drop the backend data (deprovision: tables, keys, streams)"),
    h("label", { for: "f-confirm" }, "Type the namespace name to confirm"),
    confirmName,
    error,
    h("div", { class: "actions" }, button,
      h("a", { class: "button secondary", href }, "Cancel")),
  );
  confirmName.addEventListener("input", () => {
    button.disabled = confirmName.value !== ns.name;
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (confirmName.value !== ns.name) return;
    button.disabled = true;
    try {
      await api.deleteNamespace(ns.name, deprovision.checked);
      setFlash(`Deleted ${ns.name}${deprovision.checked ? " and its backend data" : ""}.`);
      location.hash = "#/namespaces";
    } catch (err) {
      error.replaceChildren(errorBox(err));
      button.disabled = false;
    }
  });
  root.append(h("h1", {}, `Delete ${ns.name}?`), h("section", { class: "card" }, form));
}
