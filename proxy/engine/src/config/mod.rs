//! Configuration the Python control plane hands to the core, as JSON. The
//! Python side validates user-facing YAML; this re-validates what the core
//! relies on so a bad config can never reach the hot path.

mod security;

use std::collections::HashMap;

use serde::Deserialize;

pub use security::{
    AccessPolicy, AuditConfig, AuthConfig, AuthMode, JwtConfig, KeysConfig, RateLimit, SchemaBinding,
    TlsConfig, WrappedKey,
};

use crate::call::Pattern;
use crate::PrismError;

#[derive(Debug, Clone, Deserialize)]
pub struct ProxyConfig {
    #[serde(default)]
    pub server: ServerConfig,
    #[serde(default)]
    pub namespaces: Vec<NamespaceConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct ServerConfig {
    pub listen: String,
    pub metrics_listen: String,
    /// Requests in flight before new ones are shed with RESOURCE_EXHAUSTED.
    pub max_concurrency: usize,
    /// Deadline for requests that carry no `grpc-timeout`.
    pub default_deadline_ms: u64,
    /// Tokio worker threads; 0 means one per core.
    pub worker_threads: usize,
    pub auth: AuthConfig,
    pub audit: AuditConfig,
    pub keys: KeysConfig,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8980".into(),
            metrics_listen: "127.0.0.1:9464".into(),
            max_concurrency: 1024,
            default_deadline_ms: 30_000,
            worker_threads: 0,
            auth: AuthConfig::default(),
            audit: AuditConfig::default(),
            keys: KeysConfig::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
pub struct NamespaceConfig {
    pub name: String,
    pub patterns: Vec<Pattern>,
    pub backend: String,
    #[serde(default)]
    pub limits: Limits,
    /// Capabilities the backend claims per pattern; `None` means all of them
    /// (native backends). Calls needing an unclaimed one are UNIMPLEMENTED.
    #[serde(default)]
    pub capabilities: Option<HashMap<Pattern, Vec<String>>>,
    /// The proxy's read cache for this namespace (off unless enabled).
    #[serde(default)]
    pub cache: CachePolicy,
    /// Who may read, write, administer and read PII (ADR-010).
    #[serde(default)]
    pub access: AccessPolicy,
    #[serde(default)]
    pub rate_limit: RateLimit,
    /// Refuse requests that cannot be audited (the audit channel is full).
    #[serde(default)]
    pub audit_required: bool,
    /// A message type bound to the values, with its PII fields' data keys.
    #[serde(default)]
    pub schema: Option<SchemaBinding>,
    /// Where the core reads the plugin's data itself (ADR-003): set by plugins that
    /// offer it (redis); `None`: every call goes through the plugin.
    #[serde(default)]
    pub native_reads: Option<NativeReads>,
}

/// A plugin's offer to have its KeyValue gets answered by the core (`backend::redis`,
/// `backend::postgres`).
/// The URL may carry a password: `Debug` redacts it and nothing logs it.
#[derive(Clone, PartialEq, Deserialize)]
pub struct NativeReads {
    /// Which native reader: "redis" or "postgres".
    pub kind: String,
    pub url: String,
    /// The prefix of every key of the namespace (the plugin's effective prefix).
    pub key_prefix: String,
    pub connect_timeout_ms: u64,
    pub socket_timeout_ms: u64,
    /// The already-quoted name of the namespace's KeyValue table ("postgres" only).
    #[serde(default)]
    pub table: Option<String>,
}

impl std::fmt::Debug for NativeReads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NativeReads")
            .field("kind", &self.kind)
            .field("url", &"<redacted>")
            .field("key_prefix", &self.key_prefix)
            .field("connect_timeout_ms", &self.connect_timeout_ms)
            .field("socket_timeout_ms", &self.socket_timeout_ms)
            .field("table", &self.table)
            .finish()
    }
}

/// Read-cache policy; zero sizes and TTL mean the defaults (10,000 entries,
/// 64 MiB, 60 s). The TTL bounds staleness for writes made outside the proxy.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default)]
pub struct CachePolicy {
    pub enabled: bool,
    pub max_entries: usize,
    pub max_bytes: usize,
    pub ttl_seconds: f64,
}

/// Per-namespace request limits, enforced by `layers::limits`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct Limits {
    pub max_key_bytes: usize,
    pub max_value_bytes: usize,
    pub max_batch_items: usize,
    pub max_page_items: usize,
    pub max_page_bytes: usize,
    pub default_page_items: usize,
    pub default_page_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_key_bytes: 1024,
            max_value_bytes: 1 << 20,
            max_batch_items: 1000,
            max_page_items: 10_000,
            max_page_bytes: 4 << 20,
            default_page_items: 100,
            default_page_bytes: 1 << 20,
        }
    }
}

impl ProxyConfig {
    pub fn from_json(json: &str) -> Result<Self, PrismError> {
        let config: Self = serde_json::from_str(json)
            .map_err(|e| PrismError::invalid("config", format!("invalid proxy config: {e}")))?;
        config.validate()?;
        Ok(config)
    }

    pub fn validate(&self) -> Result<(), PrismError> {
        self.server.auth.validate()?;
        if self.server.max_concurrency == 0 {
            return Err(PrismError::invalid("server.max_concurrency", "must be at least 1"));
        }
        let mut seen = std::collections::HashSet::new();
        for (i, ns) in self.namespaces.iter().enumerate() {
            ns.validate(&format!("namespaces[{i}]"))?;
            if !seen.insert(ns.name.as_str()) {
                return Err(PrismError::invalid(
                    format!("namespaces[{i}].name"),
                    format!("namespace '{}' is defined twice", ns.name),
                ));
            }
        }
        Ok(())
    }
}

impl NamespaceConfig {
    pub fn validate(&self, path: &str) -> Result<(), PrismError> {
        let valid_char = |c: char| c.is_ascii_alphanumeric() || "_.-".contains(c);
        if self.name.is_empty() || self.name.len() > 128 || !self.name.chars().all(valid_char) {
            return Err(PrismError::invalid(
                format!("{path}.name"),
                format!("'{}' must be 1-128 characters of [A-Za-z0-9_.-]", self.name),
            ));
        }
        if self.patterns.is_empty() {
            return Err(PrismError::invalid(format!("{path}.patterns"), "list at least one"));
        }
        if self.backend.is_empty() {
            return Err(PrismError::invalid(format!("{path}.backend"), "must name a backend"));
        }
        self.limits.validate(&format!("{path}.limits"))?;
        for (name, rate) in [
            ("requests_per_second", self.rate_limit.requests_per_second),
            ("per_principal_requests_per_second", self.rate_limit.per_principal_requests_per_second),
        ] {
            if !rate.is_finite() || rate < 0.0 {
                return Err(PrismError::invalid(
                    format!("{path}.rate_limit.{name}"),
                    "must be a non-negative number (0: no limit)",
                ));
            }
        }
        Ok(())
    }
}

impl Limits {
    pub fn validate(&self, path: &str) -> Result<(), PrismError> {
        let fields = [
            ("max_key_bytes", self.max_key_bytes),
            ("max_value_bytes", self.max_value_bytes),
            ("max_batch_items", self.max_batch_items),
            ("max_page_items", self.max_page_items),
            ("max_page_bytes", self.max_page_bytes),
            ("default_page_items", self.default_page_items),
            ("default_page_bytes", self.default_page_bytes),
        ];
        for (name, value) in fields {
            if value == 0 {
                return Err(PrismError::invalid(format!("{path}.{name}"), "must be positive"));
            }
        }
        if self.default_page_items > self.max_page_items {
            return Err(PrismError::invalid(
                format!("{path}.default_page_items"),
                "must not exceed max_page_items",
            ));
        }
        if self.default_page_bytes > self.max_page_bytes {
            return Err(PrismError::invalid(
                format!("{path}.default_page_bytes"),
                "must not exceed max_page_bytes",
            ));
        }
        Ok(())
    }
}
