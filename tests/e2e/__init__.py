"""End-to-end tests: the whole system as real processes."""
