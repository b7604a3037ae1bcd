"""Entrypoints: HTTP, event handlers, Celery tasks, command line."""
