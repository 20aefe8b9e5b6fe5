"""Right-to-left text for the PDFs: Arabic letters joined, Hebrew and Arabic laid out in visual order.

ReportLab draws a string's characters left to right as stored and does not shape: Arabic printed as
unjoined letters in reverse, Hebrew reversed. Its own bidi support needs `rlbidi`, which is not on PyPI, so
this module does the two steps with well-kept libraries before ReportLab sees the text:

1. `shaped` (arabic-reshaper): each Arabic letter becomes its contextual form (initial, medial, final,
   isolated; lam-alef ligatures) from Unicode's presentation forms, which DejaVu Sans has. Still logical
   order, so widths measured on it are the printed widths and lines can be broken on it.
2. `display` (python-bidi, the Unicode Bidirectional Algorithm): one line in visual order, given the
   paragraph's base direction (`is_rtl`), so a wrapped paragraph keeps its line order (each line is
   reordered on its own, as UAX #9 says). Numbers and Latin words inside RTL text keep their own order.

Text without a right-to-left letter (nearly every report) is returned as is, after one regex search.
"""

from __future__ import annotations

import re

import arabic_reshaper
from bidi import get_base_level, get_display
from reportlab.lib.utils import simpleSplit

#: Hebrew, Arabic (with Syriac, Thaana, NKo, Samaritan, Mandaic, Arabic Extended) and their presentation forms.
_RTL = re.compile("[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufefc]")
_ARABIC = re.compile("[\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff]")


def has_rtl(text: str) -> bool:
    """True when the text holds a right-to-left letter (then it needs `shaped` and `display`)."""
    return _RTL.search(text) is not None


def shaped(text: str) -> str:
    """The text with Arabic letters in their joined forms, still in logical order (others unchanged)."""
    return arabic_reshaper.reshape(text) if _ARABIC.search(text) else text


def is_rtl(text: str) -> bool:
    """The paragraph's base direction is right to left (its first strong letter is RTL: UAX #9 P2, P3)."""
    return has_rtl(text) and get_base_level(text) == 1


def display(line: str, rtl: bool) -> str:
    """One line in visual (left-to-right drawing) order, in a paragraph of base direction `rtl`."""
    if not has_rtl(line):
        return line
    return get_display(line, base_dir="R" if rtl else "L")


def visual(text: str) -> str:
    """A one-line text (a title, a footer) shaped and in visual order, its base direction its own."""
    if not has_rtl(text):
        return text
    joined = shaped(text)
    return display(joined, is_rtl(joined))


def wrapped(text: str, font: str, size: float, width: float) -> tuple[list[str], bool]:
    """The text broken into lines that fit `width` (measured shaped), each in visual order; and whether the
    paragraph reads right to left (then it is drawn right-aligned)."""
    if not has_rtl(text):
        return simpleSplit(text, font, size, width) or [text], False
    joined = shaped(text)
    rtl = is_rtl(joined)
    return [display(line, rtl) for line in simpleSplit(joined, font, size, width) or [joined]], rtl
