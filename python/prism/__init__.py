"""Prism: a data access gateway with a Rust core and a Python control plane."""

__version__ = "0.1.0"
