"""Compile an annotated .proto at test time (grpc_tools.protoc, --include_imports) into a
FileDescriptorSet, and load its message classes to build and read values."""

from __future__ import annotations

import importlib.resources
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

REPO = Path(__file__).resolve().parents[2]
PROTO_ROOT = REPO / "proto"  # holds prism/options.proto
HERE = Path(__file__).resolve().parent / "protos"


@dataclass(frozen=True)
class Compiled:
    descriptor_set: bytes  # serialized google.protobuf.FileDescriptorSet
    classes: dict[str, Any]  # full message name -> generated class

    def message(self, full_name: str) -> Any:
        return self.classes[full_name]


def compile_proto(proto: str, out_dir: Path) -> Compiled:
    """`proto` is a file name in tests/security/protos."""
    out = out_dir / (Path(proto).stem + ".pb")
    well_known = importlib.resources.files("grpc_tools") / "_proto"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            f"-I{HERE}",
            f"-I{PROTO_ROOT}",
            f"-I{well_known}",
            "--include_imports",
            f"--descriptor_set_out={out}",
            str(HERE / proto),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, f"protoc failed:\n{done.stdout}\n{done.stderr}"
    raw = out.read_bytes()
    fds = descriptor_pb2.FileDescriptorSet.FromString(raw)
    pool = descriptor_pool.DescriptorPool()
    for file in fds.file:
        pool.Add(file)
    classes: dict[str, Any] = {}
    for file in fds.file:
        fd = pool.FindFileByName(file.name)
        for name in fd.message_types_by_name:
            full = fd.message_types_by_name[name].full_name
            classes[full] = message_factory.GetMessageClass(pool.FindMessageTypeByName(full))
    return Compiled(raw, classes)
