"""Comments are written in the network's plain-text format (one renderer: uskalla_reference)."""

from uskalla_reference.plaintext import LINK_REL, LINK_TEXT_MAX, render_plain_text

#: A comment's body as safe HTML (p, br, a only).
render_comment = render_plain_text

__all__ = ["LINK_REL", "LINK_TEXT_MAX", "render_comment"]
