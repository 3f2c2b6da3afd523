"""Lane D's plugin (issue 6): the bridge's cost with no backend behind it."""

from prism_bench_noop.plugin import NoopPlugin

__all__ = ["NoopPlugin"]
