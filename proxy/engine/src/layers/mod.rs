//! Tower layers of the data path, one concern per file. `stack::build`
//! assembles them; every layer works on typed `Call`s, never on HTTP bodies.

pub mod audit;
pub mod authn;
pub mod authz;
pub mod cache;
pub mod capability;
pub mod deadline;
pub mod limits;
pub mod load_shed;
pub mod metrics;
pub mod namespace;
pub mod pii;
pub mod rate_limit;

use std::future::Future;
use std::pin::Pin;

use crate::call::Reply;
use crate::PrismError;

/// The future every service in the stack returns.
pub type CallFuture = Pin<Box<dyn Future<Output = Result<Reply, PrismError>> + Send>>;
