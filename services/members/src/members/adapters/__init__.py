"""Adapters: the members database."""
