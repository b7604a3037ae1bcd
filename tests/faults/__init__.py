"""The fault suite: the whole system under kills and a Redis restart, nothing lost."""
