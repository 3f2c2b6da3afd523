"""`prismctl`: the operator's CLI for the Prism admin API (and, for debugging, the gRPC
data API). One module per command group, assembled in main.py; see RFC-001."""
