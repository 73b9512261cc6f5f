"""Rendering the readers' pages: Jinja2 templates from ``templates/web``, escaped by default.

Everything a reader typed is shown back through autoescaping only; no page carries inline
script or style (the CSP forbids both), and the stylesheet's colours are computed from
``[web] accent_color`` so that text on it, and links in it, stay readable (4.5:1).
"""

from __future__ import annotations

from functools import cached_property
from typing import Any
from urllib.parse import urlsplit

import jinja2

from ..config import Settings
from ..resources import templates
from .colour import contrast, darken_until, readable_text

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
DARK_BACKGROUND = "#16181b"


class Pages:
    """The page renderer of one app: site facts filled in for every template."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(templates("web"))),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        site = settings.site
        self.base = urlsplit(site.url).path.rstrip("/")  # "" or "/news": the site's sub-path
        rtl = site.language.split("-")[0].lower() in ("ar", "fa", "he", "ur", "ps", "yi")
        self.common: dict[str, Any] = {
            "site_name": site.name,
            "site_url": site.url,
            "base": self.base,
            "archive_url": settings.archive_url,
            "postal_address": site.postal_address,
            "language": site.language,
            "direction": "rtl" if rtl else "ltr",
            "weekdays": WEEKDAYS,
            "send_time": settings.digest.send_time,
            "problems": {},
        }

    def render(self, template: str, **context: Any) -> str:
        return self.env.get_template(template).render(**{**self.common, **context})

    @cached_property
    def stylesheet(self) -> str:
        """site.css with the accent colour and the colours derived from it."""
        accent = self.settings.web.accent_color
        source = (templates("web") / "static" / "site.css").read_text(encoding="utf-8")
        values = {
            "accent": accent,
            "on_accent": readable_text(accent),
            "link": darken_until(accent, "#ffffff", 4.5),
            "link_dark": accent if contrast(accent, DARK_BACKGROUND) >= 4.5 else "#8ab4f8",
        }
        for key, value in values.items():
            source = source.replace("{{ " + key + " }}", value)
        return source

    @cached_property
    def script(self) -> str:
        return (templates("web") / "static" / "tz.js").read_text(encoding="utf-8")
