"""The PDFs' fonts: DejaVu Sans (Debian's fonts-dejavu-core), embedded, so a report prints what its user typed.

ReportLab's built-in Helvetica knows Latin-1 only: Greek, Cyrillic, Hebrew, Arabic, arrows, dingbats and
most symbols printed as empty boxes. DejaVu Sans covers those scripts, Arabic's presentation forms included
(reports/bidi.py joins Arabic letters and puts right-to-left lines in visual order before they are drawn),
and its zero-width characters print as nothing. Its emoji (the emoticons block, e.g. U+1F600) print in black
and white; emoji outside DejaVu's set still print as a box (no colour-emoji font is one ReportLab can embed).
Registered once at import; without the font files (a bare container) the PDFs fall back to Helvetica with
a warning, rather than failing every report.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from reportlab.lib.fonts import addMapping
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

log = logging.getLogger("reportsvc.reports")

#: Where Debian (fonts-dejavu-core) and most distributions put DejaVu; REPORT_FONT_DIR overrides.
FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"),
             Path("/usr/share/fonts/TTF"))
FILES = {"DejaVuSans": "DejaVuSans.ttf", "DejaVuSans-Bold": "DejaVuSans-Bold.ttf",
         "DejaVuSans-Oblique": "DejaVuSans-Oblique.ttf", "DejaVuSans-BoldOblique": "DejaVuSans-BoldOblique.ttf"}


def _font_dir() -> Path | None:
    dirs = ([Path(os.environ["REPORT_FONT_DIR"])] if os.environ.get("REPORT_FONT_DIR") else []) + list(FONT_DIRS)
    for folder in dirs:
        if all((folder / name).is_file() for name in FILES.values()):
            return folder
    return None


def register() -> tuple[str, str, str, bool]:
    """(regular, bold, italic font names, embedded?) after registering DejaVu Sans if it is installed."""
    folder = _font_dir()
    if folder is None:
        log.warning("DejaVu Sans not found (install fonts-dejavu-core, or set REPORT_FONT_DIR): PDFs use "
                    "Helvetica, and text outside Latin-1 prints as boxes")
        return "Helvetica", "Helvetica-Bold", "Helvetica-Oblique", False
    for name, file in FILES.items():
        if name not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(TTFont(name, str(folder / file)))
    # <b> and <i> inside a Paragraph pick the matching face.
    addMapping("DejaVuSans", 0, 0, "DejaVuSans")
    addMapping("DejaVuSans", 1, 0, "DejaVuSans-Bold")
    addMapping("DejaVuSans", 0, 1, "DejaVuSans-Oblique")
    addMapping("DejaVuSans", 1, 1, "DejaVuSans-BoldOblique")
    return "DejaVuSans", "DejaVuSans-Bold", "DejaVuSans-Oblique", True


REGULAR, BOLD, ITALIC, EMBEDDED = register()
