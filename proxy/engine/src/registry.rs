//! The live namespace table. Swapped atomically on config updates: a request
//! keeps the snapshot it resolved, and backends of unchanged namespaces are
//! reused so their state (memory data, connections) survives a reload.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::backend::{Backend, MemoryBackend};
use crate::bridge::{BridgeQueue, BridgedBackend};
use crate::call::Pattern;
use crate::config::{CachePolicy, Limits, NamespaceConfig};
use crate::page_token::stable_hash;
use crate::read_cache::ReadCache;

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
}

pub struct Registry {
    table: ArcSwap<HashMap<String, Arc<Namespace>>>,
    bridge: Option<Arc<BridgeQueue>>,
}

impl Registry {
    pub fn new(bridge: Option<Arc<BridgeQueue>>) -> Self {
        Self { table: ArcSwap::from_pointee(HashMap::new()), bridge }
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

    /// Replaces the whole table; validated configs only.
    pub fn apply(&self, configs: &[NamespaceConfig]) -> Result<(), crate::PrismError> {
        let old = self.table.load();
        let mut next = HashMap::with_capacity(configs.len());
        for config in configs {
            let previous = old.get(&config.name).filter(|ns| ns.backend_kind == config.backend);
            let backend = match previous {
                Some(ns) => ns.backend.clone(),
                None => self.make_backend(config)?,
            };
            // A cache survives a reload only when its backend and policy are unchanged.
            let cache = match previous {
                Some(ns) if ns.cache_policy == config.cache => ns.cache.clone(),
                _ => ReadCache::new(&config.cache).map(Arc::new),
            };
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
            Some(queue) => Ok(Arc::new(BridgedBackend::new(&config.backend, &config.name, queue.clone()))),
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
