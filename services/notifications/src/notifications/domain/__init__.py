"""Plain rules of what the network sends."""
