"""WCAG 2 colour contrast: so an operator's accent colour can never make a page unreadable."""

from __future__ import annotations


def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.03928 else float(((c + 0.055) / 1.055) ** 2.4)


def luminance(colour: str) -> float:
    """Relative luminance of ``#rrggbb``."""
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast(a: str, b: str) -> float:
    """The WCAG contrast ratio of two colours, 1 to 21."""
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def readable_text(background: str) -> str:
    """Near-white or near-black, whichever reads better on ``background``."""
    return max(("#ffffff", "#111111"), key=lambda text: contrast(text, background))


def darken_until(colour: str, background: str, ratio: float) -> str:
    """``colour`` darkened step by step until it reaches ``ratio`` against ``background``."""
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    for _ in range(100):
        candidate = f"#{r:02x}{g:02x}{b:02x}"
        if contrast(candidate, background) >= ratio:
            return candidate
        r, g, b = (int(c * 0.9) for c in (r, g, b))
    return "#000000"
