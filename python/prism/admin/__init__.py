"""The Prism admin service: the only writer of namespace config (RFC-001).

`create_app(settings)` builds the FastAPI app; `AdminServer` runs it with uvicorn in a
background thread for `prism serve`, `prism admin` and tests.
"""

from __future__ import annotations

from prism.admin.settings import AdminSettings

__all__ = ["AdminSettings"]
