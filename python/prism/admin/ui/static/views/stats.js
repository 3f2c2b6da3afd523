// Reads GET /v1/namespaces/{name}/stats (request_rate and error_rate per second,
// p99_seconds) into chart values; null when the admin has no value yet (rates need two
// scrapes of the proxies' metrics, p99 needs traffic).

export function readStats(raw) {
  const stats = raw || {};
  return {
    requestRate: numberOrNull(stats.request_rate),
    errorRate: numberOrNull(stats.error_rate),
    p99Ms: stats.p99_seconds == null ? null : numberOrNull(stats.p99_seconds * 1000),
  };
}

function numberOrNull(value) {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}
