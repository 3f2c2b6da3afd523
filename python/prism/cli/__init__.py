"""The `prism` command line (typer); the app is prism.cli.main:app."""
