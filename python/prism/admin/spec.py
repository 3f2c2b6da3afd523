"""The namespace spec of RFC-001 as pydantic models; limit defaults come from prism.config.

Accepts `pattern: keyvalue` as a shorthand for `patterns: [keyvalue]`. Unknown keys are
refused so a typo in a spec is a 422 naming the key rather than a silently ignored field.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from prism.config import MAX_CACHE_SIZE, MAX_LIMIT, Limits
from prism.security_config import MAX_RATE, selector_error

NAME_PATTERN = r"^[A-Za-z0-9_.-]{1,128}$"
_LIMIT_DEFAULTS = Limits()
Pattern = Literal["keyvalue", "timeseries"]
Consistency = Literal["strong", "read_your_writes", "eventual"]


def _all_patterns() -> list[Pattern]:
    return ["keyvalue", "timeseries"]  # as prism.config: both patterns by default


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, serialize_by_alias=True)


class LimitsSpec(_Strict):
    max_key_bytes: int = Field(default=_LIMIT_DEFAULTS.max_key_bytes, gt=0, le=MAX_LIMIT)
    max_value_bytes: int = Field(default=_LIMIT_DEFAULTS.max_value_bytes, gt=0, le=MAX_LIMIT)
    max_batch_items: int = Field(default=_LIMIT_DEFAULTS.max_batch_items, gt=0, le=MAX_LIMIT)
    max_page_items: int = Field(default=_LIMIT_DEFAULTS.max_page_items, gt=0, le=MAX_LIMIT)
    max_page_bytes: int = Field(default=_LIMIT_DEFAULTS.max_page_bytes, gt=0, le=MAX_LIMIT)
    default_page_items: int = Field(default=_LIMIT_DEFAULTS.default_page_items, gt=0, le=MAX_LIMIT)
    default_page_bytes: int = Field(default=_LIMIT_DEFAULTS.default_page_bytes, gt=0, le=MAX_LIMIT)

    @model_validator(mode="after")
    def _defaults_within_max(self) -> LimitsSpec:
        if self.default_page_items > self.max_page_items:
            raise ValueError("default_page_items must not exceed max_page_items")
        if self.default_page_bytes > self.max_page_bytes:
            raise ValueError("default_page_bytes must not exceed max_page_bytes")
        return self


class CacheSpec(_Strict):
    enabled: bool = False
    max_entries: int = Field(default=0, ge=0, le=MAX_CACHE_SIZE)
    max_bytes: int = Field(default=0, ge=0, le=MAX_CACHE_SIZE)
    ttl_seconds: float = Field(default=0, ge=0, le=MAX_CACHE_SIZE)


class RetentionSpec(_Strict):
    days: int = Field(default=0, ge=0, le=10**6)  # 0 = forever


class AccessSpec(_Strict):
    """Selectors: `*`, `<principal>`, `group:<g>`, `claim:<k>=<v>`, `cert:<id>` (ADR-010)."""

    read: list[str] = Field(default_factory=lambda: ["*"])
    write: list[str] = Field(default_factory=lambda: ["*"])
    admin: list[str] = Field(default_factory=list)
    pii_read: list[str] = Field(default_factory=list)

    @field_validator("read", "write", "admin", "pii_read")
    @classmethod
    def _selectors(cls, value: list[str]) -> list[str]:
        for j, selector in enumerate(value):
            problem = selector_error(selector)
            if problem:
                raise ValueError(f"[{j}]: {problem}")
        return value


class RateLimitSpec(_Strict):
    """Token buckets in the proxy; a zero rate is no limit, burst 0 one second's worth."""

    requests_per_second: float = Field(default=0, ge=0, le=MAX_RATE)
    burst: int = Field(default=0, ge=0, le=2**32 - 1)
    per_principal_requests_per_second: float = Field(default=0, ge=0, le=MAX_RATE)
    per_principal_burst: int = Field(default=0, ge=0, le=2**32 - 1)


class DataKeySpec(_Strict):
    version: int = Field(ge=1, le=2**31 - 1)
    #: The data key wrapped by the master key; left out of API answers.
    wrapped: str | None = None


class SchemaSpec(_Strict):
    """A message type bound to the values (managed by /v1/namespaces/{name}/schema)."""

    descriptor_set: str = Field(description="A google.protobuf.FileDescriptorSet, base64.")
    message: str = Field(description="Full name of the value message, e.g. acme.v1.User.")
    data_keys: list[DataKeySpec] = Field(default_factory=list)


class NamespaceSpec(_Strict):
    """One namespace: what it serves, where its data lives, and its policies."""

    name: str = Field(pattern=NAME_PATTERN)
    patterns: list[Pattern] = Field(default_factory=_all_patterns, min_length=1)
    backend: str = Field(default="sqlite", pattern=NAME_PATTERN)
    config: dict[str, Any] = Field(default_factory=dict)
    limits: LimitsSpec = Field(default_factory=lambda: LimitsSpec())
    features: list[str] = Field(default_factory=list)
    cache: CacheSpec = Field(default_factory=lambda: CacheSpec())
    consistency: Consistency = "strong"
    retention: RetentionSpec = Field(default_factory=lambda: RetentionSpec())
    access: AccessSpec = Field(default_factory=lambda: AccessSpec())
    rate_limit: RateLimitSpec = Field(default_factory=lambda: RateLimitSpec())
    #: Refuse requests the proxy cannot audit (its audit channel full) instead of serving.
    audit_required: bool = False
    #: Read-only here: set with PUT /v1/namespaces/{name}/schema; updates keep the stored one.
    schema_: SchemaSpec | None = Field(default=None, alias="schema")

    @model_validator(mode="before")
    @classmethod
    def _pattern_shorthand(cls, data: Any) -> Any:
        if isinstance(data, dict) and "pattern" in data:
            if "patterns" in data:
                raise ValueError("give either `pattern` or `patterns`, not both")
            data = dict(data)
            data["patterns"] = [data.pop("pattern")]
        return data

    @model_validator(mode="after")
    def _unique_patterns(self) -> NamespaceSpec:
        if len(set(self.patterns)) != len(self.patterns):
            raise ValueError("patterns lists a pattern twice")
        return self


class NamespaceUpdate(_Strict):
    """Body of PUT /v1/namespaces/{name}: the new spec and the version it replaces."""

    spec: NamespaceSpec
    version: int = Field(ge=1, le=2**31 - 1)


def redact(spec: Any) -> Any:
    """A stored spec as the API shows it: data keys by version only, never wrapped keys.
    (Proxies get them through /v1/config, which serves the stored spec as is.)"""
    if not isinstance(spec, dict) or not isinstance(spec.get("schema"), dict):
        return spec
    schema = dict(spec["schema"])
    schema["data_keys"] = [
        {"version": k.get("version")} for k in schema.get("data_keys") or [] if isinstance(k, dict)
    ]
    return {**spec, "schema": schema}
