"""Read a PDF the way a viewer does (pypdf): its page count and its text, for tests that check a report."""

from __future__ import annotations

import io

from pypdf import PdfReader


def read_pdf(data: bytes) -> tuple[int, str]:
    """(page count, text of every page joined by newlines); raises if `data` is not a parseable PDF."""
    reader = PdfReader(io.BytesIO(data), strict=True)
    return len(reader.pages), "\n".join(page.extract_text() for page in reader.pages)


def drawn_runs(data: bytes, page: int = 0) -> list[tuple[str, float]]:
    """Each string a page draws (Tj / TJ), as its characters in drawing order (left to right, untouched by
    any extractor's right-to-left heuristics, which pypdf and poppler both apply), with the x where it starts.

    Fonts are decoded through their ToUnicode CMaps (the `bfchar` entries ReportLab writes for its subsets)."""
    import re

    from pypdf.generic import ContentStream

    reader = PdfReader(io.BytesIO(data), strict=True)
    pg = reader.pages[page]
    maps: dict[str, dict[int, str]] = {}
    for name, font in (pg["/Resources"].get("/Font") or {}).items():
        cmap = font.get_object().get("/ToUnicode")
        text = cmap.get_object().get_data().decode("latin-1") if cmap is not None else ""
        maps[name] = {int(code, 16): chr(int(uni, 16))
                      for code, uni in re.findall(r"<([0-9A-Fa-f]{2})>\s*<([0-9A-Fa-f]{4})>", text)}
    runs: list[tuple[str, float]] = []
    font, x, origin, saved = "", 0.0, 0.0, []  # origin: the x the `cm` translations moved to (q/Q nest)
    for operands, op in ContentStream(pg.get_contents(), reader).operations:
        if op == b"q":
            saved.append(origin)
        elif op == b"Q":
            origin = saved.pop() if saved else 0.0
        elif op == b"cm":
            origin += float(operands[4])
        elif op == b"Tf":
            font = operands[0]
        elif op in (b"Td", b"TD"):
            x += float(operands[0])
        elif op == b"Tm":
            x = float(operands[4])
        elif op == b"BT":
            x = 0.0
        elif op in (b"Tj", b"TJ"):
            parts = operands[0] if op == b"TJ" else [operands[0]]
            raw = b"".join(p.original_bytes if hasattr(p, "original_bytes") else bytes(p) for p in parts
                           if not isinstance(p, int | float))
            table = maps.get(font)
            runs.append(("".join(table.get(b, "?") for b in raw) if table else raw.decode("latin-1"), origin + x))
    return runs
