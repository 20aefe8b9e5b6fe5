"""User names are unique case-insensitively: `ADMIN` is `admin`, at creation (CLI/API/console share it), at
sign-in, and in the database itself."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from tests.conftest import TEST_PASSWORD


def test_a_name_differing_only_in_case_is_taken(app, admin_client):
    name = f"Case-{uuid.uuid4().hex[:6]}"
    assert admin_client.post("/users", json={"name": name, "role": "viewer", "password": TEST_PASSWORD}
                             ).status_code == 201
    again = admin_client.post("/users", json={"name": name.upper(), "role": "admin", "password": TEST_PASSWORD})
    assert again.status_code in (409, 422), again.get_data(as_text=True)
    names = [u["name"] for u in admin_client.get("/users").get_json()["items"] if u["name"].lower() == name.lower()]
    assert names == [name]


def test_sign_in_finds_the_account_whatever_the_case(app):
    from reportsvc.state import accounts

    name = f"Mixed-{uuid.uuid4().hex[:6]}"
    with app.app_context():
        accounts.create_user(name, "viewer", TEST_PASSWORD)
    c = app.test_client()
    assert c.post("/login", data={"name": name.lower(), "password": TEST_PASSWORD}).status_code == 303
    assert c.get("/me").get_json()["name"] == name


def test_the_database_refuses_a_case_twin(app):
    from reportsvc.extensions import db

    name = f"twin-{uuid.uuid4().hex[:6]}"
    with app.app_context():
        db.session.execute(text("INSERT INTO users (name, role) VALUES (:n, 'viewer')"), {"n": name})
        with pytest.raises(IntegrityError):
            db.session.execute(text("INSERT INTO users (name, role) VALUES (:n, 'viewer')"), {"n": name.upper()})
        db.session.rollback()
