// Create and edit a namespace. The admin validates (RFC-001): its 422 problem details
// name fields such as `limits.max_key_bytes`, `features[0]` or `config.path`, and each
// message is shown beside the input with that name (field-errors.js).

import { api, ApiError } from "../api.js";
import { clear, h } from "../dom.js";
import { showFieldErrors, clearFieldErrors } from "./field-errors.js";
import { setFlash } from "./flash.js";
import { CONSISTENCY, LIMIT_FIELDS, PATTERNS, capabilitiesOf, patternsOf } from "./spec.js";

export async function renderForm(root, params, stale) {
  const editing = Boolean(params.name);
  const [backends, current] = await Promise.all([
    api.backends(),
    editing ? api.namespace(params.name) : Promise.resolve(null),
  ]);
  if (stale()) return;
  const spec = current ? structuredClone(current.spec || {}) : {};
  const form = buildForm(spec, backends, editing);
  root.append(
    h("h1", {}, editing ? `Edit ${current.name}` : "New namespace",
      editing ? h("span", { class: "version" }, ` v${current.version}`) : null),
    h("section", { class: "card" }, form),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit(form, spec, current);
  });
}

function buildForm(spec, backends, editing) {
  const backendNames = backends.map((b) => b.name);
  const selected = spec.backend ?? (backendNames.includes("memory") ? "memory" : backendNames[0]);
  const patterns = patternsOf(spec);
  const limits = spec.limits || {};
  const features = h("div", { class: "checks", id: "feature-checks" });
  const configHint = h("small", { class: "muted", id: "config-hint" });

  const backendSelect = h("select", { name: "backend", id: "f-backend" },
    backendNames.map((n) => h("option", { value: n, selected: n === selected }, n)));
  const form = h("form", { id: "namespace-form", novalidate: true, autocomplete: "off" },
    field("name", "Name",
      h("input", { name: "name", id: "f-name", value: spec.name ?? "", readOnly: editing,
        placeholder: "orders", spellcheck: "false" }),
      editing ? "The name cannot change." : "Letters, digits, '_', '.' and '-'; up to 128."),
    fieldset("patterns", "Patterns", h("div", { class: "checks" }, PATTERNS.map((p) =>
      h("label", {}, h("input", { type: "checkbox", name: "patterns", value: p,
        checked: patterns.length ? patterns.includes(p) : p === "keyvalue" }), ` ${p}`)))),
    field("backend", "Backend", backendSelect),
    field("config", "Backend config (JSON)",
      h("textarea", { name: "config", id: "f-config", rows: 4, spellcheck: "false",
        value: JSON.stringify(spec.config || {}, null, 2) }),
      configHint),
    fieldset("limits", "Limits (empty: the default)", h("div", { class: "grid" },
      LIMIT_FIELDS.map(([key, label]) => field(`limits.${key}`, label,
        h("input", { type: "number", name: `limits.${key}`, id: `f-limits-${key}`,
          value: limits[key] ?? "", placeholder: "default", step: 1 }))))),
    fieldset("features", "Features (capabilities the backend claims)", features),
    field("consistency", "Consistency",
      h("select", { name: "consistency", id: "f-consistency" }, CONSISTENCY.map((c) =>
        h("option", { value: c, selected: c === (spec.consistency ?? "strong") }, c)))),
    h("p", { class: "error-box", id: "form-error", role: "alert", hidden: true }),
    h("div", { class: "actions" },
      h("button", { type: "submit", id: "submit" }, editing ? "Save changes" : "Create namespace"),
      h("a", { class: "button secondary", href: editing
        ? `#/namespaces/${encodeURIComponent(spec.name)}` : "#/namespaces" }, "Cancel")),
  );

  // Features and the config hint follow the selected backend and patterns.
  let first = true;
  const refresh = () => {
    const backend = backends.find((b) => b.name === backendSelect.value) || {};
    const wanted = first ? spec.features || [] : checkedValues(form, "features");
    first = false;
    renderFeatures(features, backend, checkedValues(form, "patterns"), wanted);
    configHint.textContent = schemaHint(backend);
  };
  form.addEventListener("change", (event) => {
    if (event.target.name === "backend" || event.target.name === "patterns") refresh();
  });
  refresh();
  return form;
}

function renderFeatures(container, backend, patterns, wanted) {
  const caps = capabilitiesOf(backend);
  const claimed = new Set();
  for (const [pattern, list] of Object.entries(caps)) {
    if (patterns.includes(pattern)) list.forEach((c) => claimed.add(c));
  }
  claimed.delete("core"); // every backend has it; not a choice
  // A feature already in the spec stays visible even if unclaimed, so it can be removed.
  const all = [...new Set([...claimed, ...wanted])].sort();
  clear(container).append(...(all.length ? all.map((c) => h("label", {},
    h("input", { type: "checkbox", name: "features", value: c, checked: wanted.includes(c) }),
    ` ${c}`, claimed.has(c) ? null : h("small", { class: "warn" }, " (not claimed)")))
    : [h("small", { class: "muted" }, "This backend claims no optional feature.")]));
}

// config_schema lists the plugin's config fields: [{name, type, required, default}].
function schemaHint(backend) {
  const fields = Array.isArray(backend.config_schema) ? backend.config_schema : [];
  if (!fields.length) return "This backend takes no config: {}.";
  const describe = (f) => (f.required ? `${f.name} (required)`
    : `${f.name}${f.default !== null && f.default !== undefined ? ` = ${JSON.stringify(f.default)}` : ""}`);
  return `Fields: ${fields.map(describe).join(", ")}.`;
}

function checkedValues(form, name) {
  return [...form.querySelectorAll(`input[name="${name}"]:checked`)].map((i) => i.value);
}

function field(name, label, input, hint) {
  const id = input.id || `f-${name.replace(/\W/g, "-")}`;
  input.id = id;
  return h("div", { class: "field", "data-field": name },
    h("label", { for: id }, label), input,
    hint ? (typeof hint === "string" ? h("small", { class: "muted" }, hint) : hint) : null,
    h("p", { class: "field-error", "data-error-for": name }));
}

function fieldset(name, legend, content) {
  return h("fieldset", { class: "field", "data-field": name }, h("legend", {}, legend), content,
    h("p", { class: "field-error", "data-error-for": name }));
}

// The spec to send: the stored spec (keeping fields this form does not edit, such as
// cache, retention and access) with the form's values over it.
function specFromForm(form, base) {
  const spec = structuredClone(base);
  delete spec.pattern;
  spec.name = form.elements.name.value.trim();
  spec.patterns = checkedValues(form, "patterns");
  spec.backend = form.elements.backend.value;
  spec.config = JSON.parse(form.elements.config.value.trim() || "{}");
  const limits = { ...(base.limits || {}) };
  for (const [key] of LIMIT_FIELDS) {
    const raw = form.elements[`limits.${key}`].value.trim();
    if (raw === "") delete limits[key];
    else limits[key] = Number.isFinite(Number(raw)) ? Number(raw) : raw;
  }
  spec.limits = limits;
  spec.features = checkedValues(form, "features");
  spec.consistency = form.elements.consistency.value;
  return spec;
}

async function submit(form, base, current) {
  clearFieldErrors(form);
  let spec;
  try {
    spec = specFromForm(form, base);
  } catch (err) {
    showFieldErrors(form, [{ field: "config", message: `Not valid JSON: ${err.message}` }]);
    return;
  }
  const button = form.querySelector("#submit");
  button.disabled = true;
  try {
    const saved = current
      ? await api.updateNamespace(current.name, spec, current.version)
      : await api.createNamespace(spec);
    const version = saved && saved.version !== undefined ? ` (version ${saved.version})` : "";
    setFlash(current ? `Saved${version}.` : `Created${version}.`);
    location.hash = `#/namespaces/${encodeURIComponent(spec.name)}`;
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    const errors = err.errors.length ? err.errors : [];
    const message = err.status === 409 && current
      ? "Someone changed this namespace since you opened it; reload the page to edit the " +
        "latest version."
      : err.message;
    showFieldErrors(form, errors, message, spec);
  } finally {
    button.disabled = false;
  }
}
