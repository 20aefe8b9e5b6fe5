"""Both download routes send PDFs with `Cache-Control: private, no-store` (not send_file's no-cache)."""

from __future__ import annotations

import pytest

from tests.integration.test_download_race import ROUTES, _ready_report


@pytest.mark.parametrize("where", ["api", "console"])
def test_pdf_downloads_are_private_and_never_stored(app, client, where) -> None:  # type: ignore[no-untyped-def]
    rid, _ = _ready_report(app)
    response = client.get(ROUTES[where].format(rid=rid))
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.headers["Cache-Control"] == "private, no-store"
    assert "max-age" not in response.headers["Cache-Control"]
