"""Facts more than one service needs, kept once: each service still owns its own data."""
