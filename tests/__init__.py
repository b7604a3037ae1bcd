"""Tests across services: end to end, contracts, deployment."""
