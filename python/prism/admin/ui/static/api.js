// The admin REST API (RFC-001) as seen from the browser: bearer token, JSON in and out,
// and problem-details errors turned into ApiError so views can show them per field.

const TOKEN_KEY = "prism.admin.token";

export function getToken() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(token) {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function clearToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

// An HTTP error from the admin; `errors` is the problem details' [{field, message}].
export class ApiError extends Error {
  constructor(status, problem) {
    const title = problem.title || `HTTP ${status}`;
    super(problem.detail ? `${title}: ${problem.detail}` : title);
    this.status = status;
    this.problem = problem;
    this.errors = Array.isArray(problem.errors) ? problem.errors : [];
  }
}

// Listeners told when the admin rejects the token (401), so the app shows the login box.
const unauthorizedListeners = [];
export function onUnauthorized(listener) {
  unauthorizedListeners.push(listener);
}

export async function request(method, path, body) {
  const headers = { Accept: "application/json" };
  const token = getToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  const init = { method, headers };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    throw new ApiError(0, { title: "The admin is unreachable", detail: String(err) });
  }
  const text = await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = { detail: text };
    }
  }
  if (!response.ok) {
    const error = new ApiError(response.status, normalizeProblem(data, response));
    if (response.status === 401) unauthorizedListeners.forEach((fn) => fn(error));
    throw error;
  }
  return data;
}

// Every admin error is problem details (RFC-001); anything else (a proxy in between, a
// crash page) still becomes one, titled with the HTTP status.
function normalizeProblem(data, response) {
  if (!data || typeof data !== "object") return { title: response.statusText };
  return { title: response.statusText, ...data };
}

const enc = encodeURIComponent;

export const api = {
  namespaces: () => request("GET", "/v1/namespaces"),
  namespace: (name) => request("GET", `/v1/namespaces/${enc(name)}`),
  createNamespace: (spec) => request("POST", "/v1/namespaces", spec),
  updateNamespace: (name, spec, version) =>
    request("PUT", `/v1/namespaces/${enc(name)}`, { spec, version }),
  deleteNamespace: (name, deprovision) =>
    request(
      "DELETE",
      deprovision
        ? `/v1/namespaces/${enc(name)}?deprovision=true&confirm=${enc(name)}`
        : `/v1/namespaces/${enc(name)}`,
    ),
  stats: (name) => request("GET", `/v1/namespaces/${enc(name)}/stats`),
  backends: () => request("GET", "/v1/backends"),
  backendHealth: (name) => request("GET", `/v1/backends/${enc(name)}/health`),
  proxies: () => request("GET", "/v1/proxies"),
};
