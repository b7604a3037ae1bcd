"""Entrypoints: HTTP, event handlers, command line."""
