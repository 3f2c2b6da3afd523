"""protoc plugin: generate Prism's plugin metadata and route table from the prism options.

protoc hands the plugin a CodeGeneratorRequest on stdin and expects a
CodeGeneratorResponse on stdout. Run it through `tooling/codegen/run.py` (`make codegen`),
which passes `--plugin=protoc-gen-prism=<wrapper> --prism_out=<repo root>`. Output:

- python/prism/plugins/generated/<pattern>.py, common.py, __init__.py (render_python.py)
- proxy/engine/src/routes_generated.rs (render_rust.py)

A proto the generator refuses (an RPC without a permission, say) fails protoc with the
reason, rather than producing a route table with a hole in it.
"""

from __future__ import annotations

import sys

from google.protobuf.compiler import plugin_pb2

from tooling.codegen import prism_model, render_python, render_rust


def generate(request: plugin_pb2.CodeGeneratorRequest) -> plugin_pb2.CodeGeneratorResponse:
    # The plugin reads options only, so proto3 `optional` fields are no concern of its own.
    response = plugin_pb2.CodeGeneratorResponse(
        supported_features=plugin_pb2.CodeGeneratorResponse.FEATURE_PROTO3_OPTIONAL
    )
    try:
        model = prism_model.read(request)
    except prism_model.SpecError as exc:
        response.error = str(exc)
        return response
    files = {**render_python.render(model), **render_rust.render(model)}
    for name in sorted(files):
        response.file.add(name=name, content=files[name])
    return response


def main() -> int:
    request = plugin_pb2.CodeGeneratorRequest.FromString(sys.stdin.buffer.read())
    sys.stdout.buffer.write(generate(request).SerializeToString())
    return 0


if __name__ == "__main__":
    sys.exit(main())
