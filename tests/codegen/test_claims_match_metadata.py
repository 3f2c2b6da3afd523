"""Every installed backend plugin claims exactly what tests/conformance/claims.yaml says.

The claims file drives the conformance suite and the generated backend table in
docs-cms/backends.md; the plugin's `metadata.CAPABILITIES` is what the gateway enforces.
They must never disagree, and an installed plugin must not escape the suite by being
absent from the claims file.
"""

from __future__ import annotations

from collections.abc import Mapping

from helpers import claims
from prism.plugins.registry import available_backends, load_backend


def normalized(capabilities: Mapping[str, object]) -> dict[str, frozenset[str]]:
    """Pattern -> claimed capabilities, leaving out patterns with no claim at all."""
    out: dict[str, frozenset[str]] = {}
    for pattern in claims.PATTERNS:
        caps = capabilities.get(pattern) or ()
        assert isinstance(caps, list | tuple | set | frozenset), (pattern, caps)
        if caps:
            out[pattern] = frozenset(str(c) for c in caps)
    return out


def test_installed_plugins_claim_what_claims_yaml_says() -> None:
    entries = claims.load()["backends"]
    installed = available_backends()
    assert "sqlite" in installed, "the built-in sqlite plugin is not installed (make install)"
    missing = [name for name in installed if name not in entries]
    assert not missing, (
        f"installed plugin backends missing from {claims.CLAIMS_PATH.name}: "
        f"{', '.join(missing)}; add them with their capabilities and run `make codegen`"
    )
    mismatched = []
    for name in installed:
        cls = load_backend(name)
        declared = normalized(cls.capabilities)
        claimed = normalized(entries[name])
        if declared != claimed:
            mismatched.append(
                f"{name}: metadata.CAPABILITIES {_show(declared)} != claims.yaml {_show(claimed)}"
            )
        assert cls.name == name, f"{name}: class name attribute is {cls.name!r}"
    assert not mismatched, "plugin metadata and claims.yaml disagree:\n" + "\n".join(mismatched)


def _show(caps: Mapping[str, frozenset[str]]) -> str:
    return "{" + ", ".join(f"{p}: [{', '.join(sorted(c))}]" for p, c in caps.items()) + "}"
