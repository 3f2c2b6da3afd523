//! Prism's data plane, free of Python: the tonic server, the tower layers that
//! every request crosses, the backends (native and bridged) and the queue that
//! carries work to the Python plugin host. The binding crate (`proxy/binding`)
//! wraps this engine into `prism._core`.

pub mod audit;
pub mod auth;
pub mod backend;
pub mod bridge;
pub mod call;
pub mod config;
pub mod dispatch;
pub mod error;
pub mod idempotency;
pub mod identity;
pub mod layers;
pub mod metrics;
pub mod metrics_http;
pub mod page_token;
pub mod pb;
pub mod pii;
pub mod policy;
pub mod read_cache;
pub mod registry;
pub mod rescue;
pub mod routes_generated;
pub mod security;
pub mod server;
pub mod services;
pub mod stack;
pub mod tail;
pub mod time;
pub mod token_bucket;

pub use error::PrismError;
