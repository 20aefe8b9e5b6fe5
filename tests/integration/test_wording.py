"""Refusals read as plain English: "an operator", no pydantic "Value error, " prefix, and a 5,000-digit
number is not called invalid JSON."""

from __future__ import annotations


def test_a_forbidden_operator_is_called_an_operator(client):
    r = client.get("/users")
    assert r.status_code == 403
    message = r.get_json()["error"]["message"]
    assert "is an operator" in message and "is a operator" not in message


def test_422_messages_carry_no_pydantic_prefix(client):
    for body in ({"notify_email": "not-an-address"}, {"params": {"until": "1999-01-01T00:00:00Z"}}):
        r = client.post("/reports", json=body)
        assert r.status_code == 422, r.get_data(as_text=True)
        error = r.get_json()["error"]
        assert "Value error" not in error["message"], error
        assert all("Value error" not in d["message"] for d in error["details"]), error


def test_a_number_with_too_many_digits_is_named_as_such(client):
    r = client.post("/reports", data='{"params": {"window_hours": ' + "9" * 5000 + "}}",
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert r.get_json()["error"]["message"] == "the body holds a number with too many digits (at most 4300)"
