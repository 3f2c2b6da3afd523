"""The prism package ships prism/options.proto for `prismctl schema` (user protos import
it); the copy must stay identical to the source of truth in proto/."""

from __future__ import annotations

from pathlib import Path

from prism.ctl.protoc import PRISM_PROTO_DIR

ROOT = Path(__file__).resolve().parents[2]


def test_shipped_options_proto_matches_the_source() -> None:
    shipped = PRISM_PROTO_DIR / "prism" / "options.proto"
    source = ROOT / "proto" / "prism" / "options.proto"
    assert shipped.read_bytes() == source.read_bytes(), (
        f"{shipped} differs from {source}: cp {source} {shipped}"
    )
