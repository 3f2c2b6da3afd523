"""Every generator from proto/, behind one entry point: `make codegen` / `make check-codegen`.

1. python_stubs.py: protoc's Python and gRPC modules into python/ (prism.<pkg>.v1.*_pb2).
2. protoc_gen_prism.py (a protoc plugin): the pattern metadata and plugin dispatch table in
   python/prism/plugins/generated/ and the route table proxy/engine/src/routes_generated.rs.
3. render_docs.py: the backend x capability table docs-cms/backends.md, from the
   conformance claims file tests/conformance/claims.yaml.
4. The copy of proto/prism/options.proto that the Python package ships for
   `prismctl schema` (user protos import "prism/options.proto").
5. render_sync_client.py: the blocking client from the asyncio one (python/prism/client).

Both always generate into a temporary directory first. `make codegen` then copies what
changed into the tree and deletes files the codegen no longer produces in the directories
it owns; `--check` (CI) instead fails when a committed file differs, is missing or is
left over, so the tree can never drift from the protos.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import sys
import tempfile
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # run as a script: make `tooling.codegen` importable
    sys.path.insert(0, str(ROOT))

from grpc_tools import protoc  # noqa: E402

from tooling.codegen import python_stubs, render_docs, render_sync_client  # noqa: E402

PROTO_DIR = ROOT / "proto"
CLAIMS_PATH = ROOT / render_docs.CLAIMS
# Directories whose every file is generated: a file in them that codegen does not produce
# any more is stale too.
OWNED_DIRS = ("python/prism/plugins/generated",)


def run_prism_plugin(out_dir: Path, files: Sequence[str], include_dirs: Sequence[Path]) -> None:
    """Run protoc with protoc-gen-prism on `files` (relative to an include dir)."""
    well_known = Path(str(resources.files("grpc_tools") / "_proto"))
    with tempfile.TemporaryDirectory() as tmp:
        # protoc wants an executable; this one runs the plugin with this interpreter, so it
        # sees the same protobuf package, and with the repo root importable.
        wrapper = Path(tmp) / "protoc-gen-prism"
        wrapper.write_text(
            "#!/bin/sh\n"
            f"PYTHONPATH={shlex.quote(str(ROOT))} exec {shlex.quote(sys.executable)}"
            " -m tooling.codegen.protoc_gen_prism\n"
        )
        wrapper.chmod(0o755)
        code = protoc.main(
            [
                "grpc_tools.protoc",
                *(f"-I{d}" for d in include_dirs),
                f"-I{well_known}",
                f"--plugin=protoc-gen-prism={wrapper}",
                f"--prism_out={out_dir}",
                *files,
            ]
        )
    if code != 0:
        raise SystemExit(f"protoc with protoc-gen-prism failed with exit code {code}")


def generate_all(out_root: Path, claims: Path = CLAIMS_PATH) -> None:
    """Generate everything into an empty out_root, laid out like the repo."""
    (out_root / "python").mkdir(parents=True, exist_ok=True)
    python_stubs.generate(out_root / "python")
    run_prism_plugin(out_root, python_stubs.proto_files(), [PROTO_DIR])
    render_docs.generate(out_root, claims)
    ship_options_proto(out_root)
    render_sync_client.generate(out_root, ROOT)


SHIPPED_OPTIONS = Path("python/prism/proto/prism/options.proto")


def ship_options_proto(out_root: Path) -> None:
    source = (PROTO_DIR / "prism" / "options.proto").read_text(encoding="utf-8")
    header = (
        "// Generated from proto/prism/options.proto by tooling/codegen/run.py. DO NOT EDIT:\n"
        "// change the source and run `make codegen` (`make check-codegen` fails when stale).\n"
    )
    target = out_root / SHIPPED_OPTIONS
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(header + source, encoding="utf-8")


def _files_under(root: Path, dirs: Sequence[str]) -> set[Path]:
    found: set[Path] = set()
    for rel in dirs:
        for path in (root / rel).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                found.add(path.relative_to(root))
    return found


def diff(generated_root: Path, tree: Path) -> tuple[list[Path], list[Path]]:
    """(changed or missing in `tree`, left over in `tree`) relative paths."""
    generated = set(listing(generated_root))
    changed = [
        rel
        for rel in sorted(generated)
        if not (tree / rel).exists()
        or (tree / rel).read_bytes() != (generated_root / rel).read_bytes()
    ]
    left_over = sorted(_files_under(tree, OWNED_DIRS) - generated)
    return changed, left_over


def listing(generated_root: Path) -> list[Path]:
    """Every file in a generation output directory, relative to it."""
    return sorted(p.relative_to(generated_root) for p in generated_root.rglob("*") if p.is_file())


def check(tree: Path = ROOT, claims: Path = CLAIMS_PATH) -> int:
    """0 when `tree` holds exactly what codegen produces, else 1 with the stale files."""
    with tempfile.TemporaryDirectory() as tmp:
        generate_all(Path(tmp), claims)
        changed, left_over = diff(Path(tmp), tree)
        count = len(listing(Path(tmp)))
    if changed or left_over:
        print("generated files are stale; run `make codegen` and commit:")
        for rel in changed:
            print(f"  {'changed' if (tree / rel).exists() else 'missing'}: {rel}")
        for rel in left_over:
            print(f"  no longer generated: {rel}")
        return 1
    print(f"check-codegen: {count} generated files are up to date")
    return 0


def write(tree: Path = ROOT, claims: Path = CLAIMS_PATH) -> int:
    """Regenerate into `tree`, touching only files whose content changes."""
    with tempfile.TemporaryDirectory() as tmp:
        generate_all(Path(tmp), claims)
        changed, left_over = diff(Path(tmp), tree)
        for rel in changed:
            (tree / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(Path(tmp) / rel, tree / rel)
        count = len(listing(Path(tmp)))
    for rel in left_over:
        (tree / rel).unlink()
    print(f"codegen: {count} files, {len(changed)} written, {len(left_over)} removed")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if committed files differ")
    return check() if parser.parse_args().check else write()


if __name__ == "__main__":
    sys.exit(main())
