"""Compile a user's annotated .proto into a FileDescriptorSet with grpc_tools' protoc.

`prism/options.proto` ships inside the prism package (python/prism/proto), so
`import "prism/options.proto";` works with no extra -I; protobuf's well-known types come
from grpc_tools. protoc runs as a child process so its messages (file:line:column) can be
shown in the CtlError rather than lost on the terminal.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from prism.ctl.errors import USAGE_ERROR, CtlError

#: The directory holding prism/options.proto, shipped with the package.
PRISM_PROTO_DIR = Path(__file__).resolve().parents[1] / "proto"
TIMEOUT_S = 60.0


def compile_proto(file: Path, include_dirs: Sequence[Path] = ()) -> bytes:
    """The serialized FileDescriptorSet of `file` and everything it imports."""
    spec = importlib.util.find_spec("grpc_tools")
    if spec is None or spec.origin is None:
        raise CtlError(
            "compiling .proto files needs grpcio-tools: pip install 'prism-gateway[schema]' "
            "(or grpcio-tools)",
            exit_code=USAGE_ERROR,
        )
    if not file.is_file():
        raise CtlError(f"{file}: no such file", exit_code=USAGE_ERROR)
    well_known = Path(spec.origin).parent / "_proto"
    file = file.resolve()
    includes = [d.resolve() for d in include_dirs]
    # protoc names the file relative to an include dir: the first that holds it, else its own.
    root = next((d for d in includes if file.is_relative_to(d)), None)
    if root is None:
        root = file.parent
        includes.insert(0, root)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "set.pb"
        args = [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            *(f"-I{d}" for d in includes),
            f"-I{PRISM_PROTO_DIR}",
            f"-I{well_known}",
            "--include_imports",
            f"--descriptor_set_out={out}",
            str(file.relative_to(root)),
        ]
        try:
            done = subprocess.run(args, capture_output=True, text=True, timeout=TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired) as err:
            raise CtlError(f"cannot run protoc: {err}") from err
        if done.returncode != 0:
            detail = (done.stderr or done.stdout).strip() or f"exit {done.returncode}"
            raise CtlError(f"protoc failed on {file}:\n{detail}", exit_code=USAGE_ERROR)
        return out.read_bytes()
