// Helpers on namespace specs shared by the views (RFC-001's spec shape).

export const PATTERNS = ["keyvalue", "timeseries"];

export const LIMIT_FIELDS = [
  ["max_key_bytes", "Max key bytes"],
  ["max_value_bytes", "Max value bytes"],
  ["max_batch_items", "Max batch items"],
  ["max_page_items", "Max page items"],
  ["max_page_bytes", "Max page bytes"],
  ["default_page_items", "Default page items"],
  ["default_page_bytes", "Default page bytes"],
];

export const CONSISTENCY = ["strong", "read_your_writes", "eventual"];

// A spec names `patterns: [..]` (or, as input, a single `pattern:`); a backend lists
// `patterns` too.
export function patternsOf(obj) {
  if (Array.isArray(obj.patterns)) return obj.patterns;
  return typeof obj.pattern === "string" ? [obj.pattern] : [];
}

// {pattern: [capability]} a backend claims (GET /v1/backends `capabilities`), sorted.
export function capabilitiesOf(backend) {
  const out = {};
  for (const [pattern, caps] of Object.entries(backend.capabilities || {})) {
    out[pattern] = [...caps].sort();
  }
  return out;
}
