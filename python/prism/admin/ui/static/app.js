// Entry point: the login box, hash routing and the view lifecycle. Each view is an async
// function (root, params) that renders into `root` and may return a cleanup function
// (its polling timers), called when the route changes.

import { api, clearToken, getToken, onUnauthorized, setToken, ApiError } from "./api.js";
import { clear, errorBox, h } from "./dom.js";
import { renderDashboard } from "./views/dashboard.js";
import { renderNamespaces } from "./views/namespaces.js";
import { renderDetail } from "./views/detail.js";
import { renderForm } from "./views/form.js";
import { renderDelete } from "./views/delete.js";

const ROUTES = [
  { re: /^\/?$/, nav: "dashboard", view: renderDashboard },
  { re: /^\/namespaces\/?$/, nav: "namespaces", view: renderNamespaces },
  { re: /^\/namespaces\/new$/, nav: "new", view: renderForm },
  { re: /^\/namespaces\/([^/]+)\/edit$/, nav: "namespaces", view: renderForm },
  { re: /^\/namespaces\/([^/]+)\/delete$/, nav: "namespaces", view: renderDelete },
  { re: /^\/namespaces\/([^/]+)$/, nav: "namespaces", view: renderDetail },
];

const root = document.getElementById("view");
let cleanup = null;
let generation = 0; // a render started for an older route must not touch the page

function currentPath() {
  return decodeURI(location.hash.replace(/^#/, "")) || "/";
}

async function route() {
  if (cleanup) cleanup();
  cleanup = null;
  const mine = ++generation;
  const signedIn = Boolean(getToken());
  document.getElementById("nav").hidden = !signedIn;
  document.getElementById("logout").hidden = !signedIn;
  if (!signedIn) {
    showLogin();
    return;
  }
  const path = currentPath();
  const match = ROUTES.map((r) => ({ r, m: path.match(r.re) })).find((x) => x.m);
  document.querySelectorAll("[data-nav]").forEach((a) => {
    a.classList.toggle("active", Boolean(match) && a.dataset.nav === match.r.nav);
  });
  clear(root);
  if (!match) {
    root.append(h("section", { class: "card" }, h("h1", {}, "Not found"),
      h("p", {}, `No page at ${path}. `, h("a", { href: "#/" }, "Back to the dashboard"))));
    return;
  }
  const params = { name: match.m[1] ? decodeURIComponent(match.m[1]) : null, path };
  root.dataset.view = match.r.nav;
  try {
    const done = await match.r.view(root, params, () => mine !== generation);
    if (mine === generation) cleanup = typeof done === "function" ? done : null;
    else if (typeof done === "function") done();
  } catch (err) {
    if (mine !== generation) return;
    if (err instanceof ApiError && err.status === 401) return; // the login box took over
    clear(root).append(h("section", { class: "card" }, errorBox(err)));
  }
}

function showLogin(message) {
  clear(root);
  root.dataset.view = "login";
  root.append(document.getElementById("login-template").content.cloneNode(true));
  const form = document.getElementById("login-form");
  const error = form.querySelector('[data-error-for="token"]');
  if (message) error.textContent = message;
  form.token.focus();
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    setToken(form.token.value.trim());
    try {
      await api.namespaces(); // any authenticated read proves the token
    } catch (err) {
      clearToken();
      error.textContent =
        err instanceof ApiError && (err.status === 401 || err.status === 403)
          ? "The admin rejected this token."
          : err.message;
      return;
    }
    route();
  });
}

onUnauthorized(() => {
  if (root.dataset.view === "login") return; // the login form reports a rejected token
  clearToken();
  if (cleanup) cleanup();
  cleanup = null;
  generation++;
  document.getElementById("nav").hidden = true;
  document.getElementById("logout").hidden = true;
  showLogin("Your session expired or the token was revoked; sign in again.");
});

document.getElementById("logout").addEventListener("click", () => {
  clearToken();
  route();
});

window.addEventListener("hashchange", route);
route();
