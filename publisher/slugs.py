"""How names become URL path segments: article links, section and author feed folders.

One rule for sources (an article's link) and feeds (``section/<slug>/``), so a section's
feed and its articles' links always agree.
"""

from __future__ import annotations

import re
import unicodedata


def slugify(text: str, max_length: int = 80) -> str:
    """A lowercase ASCII slug: 'Hello, World!' -> 'hello-world'."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", folded.lower()).strip("-")
    return slug[:max_length].rstrip("-") or "untitled"
