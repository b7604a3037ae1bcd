"""Run the whole system locally, and find real servers for tests: env URLs, containers, embedded."""
