"""CtlError: every failure prismctl reports, with the exit code it ends with.

Exit codes: 0 ok, 1 server or operation error, 2 usage or input error (the same 2 click
uses for a bad option), so scripts can tell "fix your command" from "the server said no".
"""

from __future__ import annotations

OK = 0
SERVER_ERROR = 1
USAGE_ERROR = 2


class CtlError(Exception):
    """A failure to report as `prismctl: <message>` plus one line per field error."""

    def __init__(
        self,
        message: str,
        *,
        exit_code: int = SERVER_ERROR,
        status: int | None = None,
        errors: list[dict[str, str]] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
        self.status = status  # the HTTP status when the admin answered
        self.errors = errors or []  # problem-details `errors`: [{field, message}]

    def lines(self) -> list[str]:
        out = [f"prismctl: {self.message}"]
        for err in self.errors:
            field, msg = err.get("field", ""), err.get("message", "")
            # The detail usually repeats a single field error; print it once.
            if field and f"{field}" in self.message and msg in self.message:
                continue
            out.append(f"  {field}: {msg}" if field else f"  {msg}")
        return out
