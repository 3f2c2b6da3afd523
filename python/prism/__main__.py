"""`python -m prism ...` runs the `prism` command line."""

from prism.cli.main import app

app(prog_name="prism")
