"""Render proxy/engine/src/routes_generated.rs: the route metadata the Rust core consumes.

The text is laid out the way rustfmt (edition 2021, default config) lays it out, so
`cargo fmt --check` has nothing to say about it.
"""

from __future__ import annotations

from tooling.codegen.header import header
from tooling.codegen.prism_model import Model

PATH = "proxy/engine/src/routes_generated.rs"

_PRELUDE = """\
//! Route metadata of every data RPC, read from the `prism.*` method options of the
//! annotated protos: the permission it needs, whether it may be retried, whether its
//! responses may be cached and the pattern capability a backend must claim to serve it.

/// The permission an RPC requires on its namespace (`prism.Permission`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Permission {
{variants}}

/// What the core knows about an RPC before running it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub permission: Permission,
    /// Applying it twice has the effect of applying it once, so it may be retried.
    pub idempotent: bool,
    /// Its responses may be served from the read cache.
    pub cacheable: bool,
    /// The pattern capability the namespace's backend must claim to serve it.
    pub capability: &'static str,
}

/// Every RPC by gRPC path, sorted by path so that `route` can binary-search.
pub const ROUTES: &[(&str, Route)] = &[
"""

_LOOKUP = """\
];

/// The route of a gRPC path such as `/prism.keyvalue.v1.KeyValue/Get`.
pub fn route(path: &str) -> Option<&'static Route> {
    ROUTES
        .binary_search_by(|(p, _)| (*p).cmp(path))
        .ok()
        .map(|i| &ROUTES[i].1)
}
"""


def _variant(permission: str) -> str:
    """READ -> Read, READ_WRITE -> ReadWrite."""
    return "".join(part.capitalize() for part in permission.split("_"))


def render(model: Model) -> dict[str, str]:
    """Output path (relative to the repo root) -> content."""
    variants = "".join(f"    {_variant(p)},\n" for p in model.permissions)
    rpcs = sorted((rpc for s in model.services for rpc in s.rpcs), key=lambda r: r.path)
    entries = "".join(
        "    (\n"
        f'        "{rpc.path}",\n'
        "        Route {\n"
        f"            permission: Permission::{_variant(rpc.permission)},\n"
        f"            idempotent: {str(rpc.idempotent).lower()},\n"
        f"            cacheable: {str(rpc.cacheable).lower()},\n"
        f'            capability: "{rpc.capability}",\n'
        "        },\n"
        "    ),\n"
        for rpc in rpcs
    )
    text = (
        header(model.sources, comment="//")
        + "\n"
        + _PRELUDE.replace("{variants}", variants)
        + entries
        + _LOOKUP
    )
    return {PATH: text}
