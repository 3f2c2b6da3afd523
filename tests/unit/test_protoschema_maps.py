"""The admin finds PII under map values too, as the core seals it there (ADR-011): a
namespace whose only PII sits in a map value still gets a data key."""

from __future__ import annotations

from pathlib import Path

from prism import protoschema
from prism.ctl.protoc import compile_proto

PROTO = """
syntax = "proto3";
package acme.v1;
import "prism/options.proto";

message Contact {
  string email = 1 [(prism.pii) = true];
  string label = 2;
}

message Account {
  string id = 1 [(prism.index) = true];
  map<string, Contact> contacts = 2;
  map<string, string> tags = 3;
}
"""


def test_pii_inside_map_values_is_found(tmp_path: Path) -> None:
    proto = tmp_path / "account.proto"
    proto.write_text(PROTO)
    _fds, info = protoschema.load(compile_proto(proto), "acme.v1.Account")
    assert info.pii_fields == ["contacts.value.email"]
    assert info.indexes == ["id"]
