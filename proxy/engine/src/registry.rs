//! The live namespace table. Swapped atomically on config updates: a request
//! keeps the snapshot it resolved, and backends of unchanged namespaces are
//! reused so their state (memory data, connections) survives a reload.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::backend::{Backend, MemoryBackend};
use crate::bridge::{BridgeQueue, BridgedBackend};
use crate::call::Pattern;
use crate::config::{CachePolicy, KeysConfig, Limits, NamespaceConfig, NativeReads};
use crate::identity::Identity;
use crate::page_token::stable_hash;
use crate::pii::{MasterKey, PiiCodec};
use crate::policy::Policy;
use crate::read_cache::ReadCache;
use crate::routes_generated::Permission;
use crate::token_bucket::RateBuckets;

pub struct Namespace {
    pub name: String,
    pub patterns: Vec<Pattern>,
    pub backend_kind: String,
    pub backend: Arc<dyn Backend>,
    pub limits: Limits,
    /// Claimed capabilities per pattern; `None`: everything is supported.
    pub capabilities: Option<HashMap<Pattern, HashSet<String>>>,
    /// Mixed into page-token fingerprints so tokens cannot cross namespaces.
    pub token_salt: u64,
    /// The read cache, when the namespace enables one.
    pub cache: Option<Arc<ReadCache>>,
    pub cache_policy: CachePolicy,
    /// The compiled access policy (ADR-010).
    pub policy: Policy,
    /// Token buckets; `None` when the namespace has no rate limit.
    pub rate: Option<Arc<RateBuckets>>,
    /// Refuse calls that cannot be audited (the audit queue is full).
    pub audit_required: bool,
    /// The bound schema with its unwrapped data keys (ADR-011); `None`: values are opaque.
    pub pii: Option<Arc<PiiCodec>>,
    /// Where gets are read natively (ADR-003); a change rebuilds the backend.
    pub native_reads: Option<NativeReads>,
}

impl std::fmt::Debug for Namespace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Namespace").field("name", &self.name).finish_non_exhaustive()
    }
}

impl Namespace {
    pub fn serves(&self, pattern: Pattern) -> bool {
        self.patterns.contains(&pattern)
    }

    pub fn supports(&self, pattern: Pattern, capability: &str) -> bool {
        match &self.capabilities {
            None => true,
            Some(caps) => caps.get(&pattern).is_some_and(|set| set.contains(capability)),
        }
    }

    /// The access policy grants `permission` to `identity`.
    pub fn permits(&self, permission: Permission, identity: &Identity) -> bool {
        self.policy.permits(permission, identity)
    }

    /// `identity` may read PII fields in plaintext (`access.pii_read`).
    pub fn may_read_pii(&self, identity: &Identity) -> bool {
        self.policy.may_read_pii(identity)
    }
}

pub struct Registry {
    table: ArcSwap<HashMap<String, Arc<Namespace>>>,
    bridge: Option<Arc<BridgeQueue>>,
    /// Where the master key that unwraps data keys comes from (ADR-011).
    keys: parking_lot::RwLock<KeySource>,
}

/// The master key: read from the environment or a file when a schema needs it,
/// or given directly (embedding and tests).
#[derive(Clone)]
enum KeySource {
    Config(KeysConfig),
    Given(MasterKey),
}

impl Registry {
    pub fn new(bridge: Option<Arc<BridgeQueue>>) -> Self {
        Self {
            table: ArcSwap::from_pointee(HashMap::new()),
            bridge,
            keys: parking_lot::RwLock::new(KeySource::Config(KeysConfig::default())),
        }
    }

    pub fn get(&self, name: &str) -> Option<Arc<Namespace>> {
        self.table.load().get(name).cloned()
    }

    /// Every namespace of the current table.
    pub fn all(&self) -> Vec<Arc<Namespace>> {
        let mut all: Vec<Arc<Namespace>> = self.table.load().values().cloned().collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all
    }

    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.table.load().keys().cloned().collect();
        names.sort();
        names
    }

    /// Reads the master key as `keys` says (server.keys), whenever a namespace
    /// with PII fields is applied; call before `apply`.
    pub fn set_keys(&self, keys: KeysConfig) {
        *self.keys.write() = KeySource::Config(keys);
    }

    /// Uses this master key instead of reading one.
    pub fn set_master_key(&self, key: MasterKey) {
        *self.keys.write() = KeySource::Given(key);
    }

    fn master_key(&self) -> Result<MasterKey, String> {
        match &*self.keys.read() {
            KeySource::Config(config) => MasterKey::load(config),
            KeySource::Given(key) => Ok(key.clone()),
        }
    }

    /// The codec of a schema binding; reused across reloads while the binding is unchanged.
    fn pii_codec(
        &self,
        config: &NamespaceConfig,
        previous: Option<&Arc<Namespace>>,
    ) -> Result<Option<Arc<PiiCodec>>, crate::PrismError> {
        let Some(binding) = &config.schema else { return Ok(None) };
        if let Some(codec) = previous.and_then(|ns| ns.pii.as_ref()).filter(|c| c.binding() == binding) {
            return Ok(Some(codec.clone()));
        }
        PiiCodec::new(&config.name, binding, || self.master_key()).map(|codec| Some(Arc::new(codec)))
    }

    /// Replaces the whole table; validated configs only.
    pub fn apply(&self, configs: &[NamespaceConfig]) -> Result<(), crate::PrismError> {
        let old = self.table.load();
        let mut next = HashMap::with_capacity(configs.len());
        for config in configs {
            let previous = old
                .get(&config.name)
                .filter(|ns| ns.backend_kind == config.backend && ns.native_reads == config.native_reads);
            let backend = match previous {
                Some(ns) => ns.backend.clone(),
                None => self.make_backend(config)?,
            };
            // A cache survives a reload only when its backend and policy are unchanged.
            let cache = match previous {
                Some(ns) if ns.cache_policy == config.cache => ns.cache.clone(),
                _ => ReadCache::new(&config.cache).map(Arc::new),
            };
            let policy = Policy::compile(&format!("namespaces[{}].access", config.name), &config.access)?;
            // Buckets survive a reload only when the rate limits are unchanged.
            let rate = match old.get(&config.name) {
                Some(ns) if ns.rate.as_ref().is_some_and(|r| r.config == config.rate_limit) => {
                    ns.rate.clone()
                }
                _ => RateBuckets::new(&config.rate_limit).map(Arc::new),
            };
            let pii = self.pii_codec(config, old.get(&config.name))?;
            let namespace = Namespace {
                name: config.name.clone(),
                patterns: config.patterns.clone(),
                backend_kind: config.backend.clone(),
                backend,
                limits: config.limits.clone(),
                capabilities: config
                    .capabilities
                    .as_ref()
                    .map(|caps| caps.iter().map(|(p, list)| (*p, list.iter().cloned().collect())).collect()),
                token_salt: stable_hash(&[config.name.as_bytes()]),
                cache,
                cache_policy: config.cache.clone(),
                policy,
                rate,
                audit_required: config.audit_required,
                pii,
                native_reads: config.native_reads.clone(),
            };
            next.insert(config.name.clone(), Arc::new(namespace));
        }
        self.table.store(Arc::new(next));
        Ok(())
    }

    fn make_backend(&self, config: &NamespaceConfig) -> Result<Arc<dyn Backend>, crate::PrismError> {
        if config.backend == "memory" {
            return Ok(Arc::new(MemoryBackend::new()));
        }
        match &self.bridge {
            Some(queue) => {
                let bridged: Arc<dyn Backend> =
                    Arc::new(BridgedBackend::new(&config.backend, &config.name, queue.clone()));
                match &config.native_reads {
                    // Gets read natively, everything else through the plugin.
                    Some(native) => crate::backend::native::wrap(bridged, native, &config.name),
                    None => Ok(bridged),
                }
            }
            None => Err(crate::PrismError::invalid(
                "backend",
                format!(
                    "namespace '{}' uses backend '{}', which needs the Python plugin host",
                    config.name, config.backend
                ),
            )),
        }
    }
}
