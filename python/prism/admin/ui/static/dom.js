// A tiny element builder. Text always goes through text nodes, never innerHTML, so names
// and messages coming from the admin cannot inject markup.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === "class") {
      el.className = value;
    } else if (key === "value" || (key in el && typeof value !== "string")) {
      el[key] = value; // properties such as checked, value, disabled
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

// Appends nodes and text; null, undefined and false are skipped (unlike Element.append).
export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

// "ok", "degraded", "down", "unused" or "unknown" from the ways a health is reported.
export function healthOf(value) {
  if (value === true) return "ok";
  if (value === false) return "down";
  if (value && typeof value === "object") {
    return healthOf(value.health ?? value.status ?? value.healthy ?? value.serving);
  }
  const text = String(value ?? "").toLowerCase();
  if (["ok", "healthy", "serving", "up", "true", "pass"].includes(text)) return "ok";
  if (["degraded", "stale", "warn"].includes(text)) return "degraded";
  if (["down", "unhealthy", "not_serving", "false", "fail", "error"].includes(text)) return "down";
  if (text === "unused") return "unused";
  return "unknown";
}

export function badge(health) {
  const state = healthOf(health);
  return h("span", { class: `badge ${state}`, "data-health": state }, state);
}

export function formatTime(value) {
  if (!value) return "—";
  const date = typeof value === "number" ? new Date(value * 1000) : new Date(value);
  return Number.isNaN(date.getTime()) ? String(value) : date.toLocaleString();
}

export function errorBox(error) {
  return h("p", { class: "error-box", role: "alert" }, error.message || String(error));
}
