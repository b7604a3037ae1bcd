"""Adapters: the experiments database."""
