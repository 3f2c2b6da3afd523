"""The admin web UI: static files served by the admin at `/ui/`, `/` redirecting there.

The UI is plain HTML, CSS and ES modules under `static/` (no framework, no CDN, no remote
fonts) so it works on a machine with no internet; it talks only to the admin's own REST
API (RFC-001) with the bearer token the operator typed into its login box.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().parent / "static"
UI_PATH = "/ui"


def mount_ui(app: FastAPI) -> None:
    """Serve the UI at `/ui/` and redirect `/` to it; neither appears in the OpenAPI."""
    # html=True serves index.html for `/ui/`; the views use hash routing (#/namespaces),
    # so no other path needs a fallback to index.html.
    app.mount(UI_PATH, StaticFiles(directory=STATIC_DIR, html=True), name="ui")

    @app.get("/", include_in_schema=False)
    def _root() -> RedirectResponse:
        return RedirectResponse(f"{UI_PATH}/")
