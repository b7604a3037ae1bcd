"""Plain rules of the network's membership."""
