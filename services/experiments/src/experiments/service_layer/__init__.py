"""Use cases of the experiment registry: each one transaction, its events into the outbox."""
