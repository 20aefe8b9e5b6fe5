"""A control character typed into the console's generate form: an HTMX request gets the form back with the
error beside the field (a fragment), never the whole error page inside the form's card; nothing is created."""

from __future__ import annotations

HX = {"HX-Request": "true"}


def test_a_control_character_in_the_generate_form_answers_the_form_fragment(app, client):
    r = client.post("/console/reports", headers=HX,
                    data={"report_type": "operations", "title": "Weekly\x07report", "window_hours": "24"})
    assert r.status_code == 422
    page = r.get_data(as_text=True)
    assert "<html" not in page.lower() and "<header" not in page.lower()  # a fragment, not a page
    assert 'name="title"' in page and "control character" in page
    assert 'value="Weeklyreport"' in page  # what was typed, minus the character that cannot be shown
    assert client.get("/reports").get_json()["items"] == []


def test_without_htmx_the_guard_still_answers_its_error_page(client):
    r = client.post("/console/reports", data={"report_type": "operations", "title": "Weekly\x07report"})
    assert r.status_code == 422 and "<html" in r.get_data(as_text=True).lower()
