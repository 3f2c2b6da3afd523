"""Values on the command line: text (UTF-8), --base64, or --file; and back for display."""

from __future__ import annotations

import base64
import binascii
from pathlib import Path

from prism.ctl.errors import USAGE_ERROR, CtlError


def read_value(text: str | None, *, b64: bool, file: Path | None) -> bytes:
    if file is not None:
        if text is not None:
            raise CtlError("give either VALUE or --file, not both", exit_code=USAGE_ERROR)
        try:
            return file.read_bytes()
        except OSError as err:
            raise CtlError(
                f"{file}: cannot read: {err.strerror or err}", exit_code=USAGE_ERROR
            ) from err
    if text is None:
        raise CtlError("missing VALUE (or --file PATH)", exit_code=USAGE_ERROR)
    if b64:
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError) as err:
            raise CtlError(f"VALUE is not valid base64: {err}", exit_code=USAGE_ERROR) from err
    return text.encode("utf-8")


def show_value(raw: bytes, *, b64: bool) -> tuple[str, str]:
    """(text, encoding): UTF-8 text when it decodes and --base64 was not asked for."""
    if not b64:
        try:
            return raw.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            pass  # binary: fall back to base64 rather than print garbage
    return base64.b64encode(raw).decode("ascii"), "base64"
