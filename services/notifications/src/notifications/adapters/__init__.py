"""Adapters: the notifications database and SMTP."""
