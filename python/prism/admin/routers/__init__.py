"""One router per admin resource (RFC-001)."""
