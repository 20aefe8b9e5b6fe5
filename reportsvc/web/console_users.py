"""Console pages for accounts (admins only: `console_users` is one of access.ADMIN_BLUEPRINTS): the account
list with create, role change and disable/enable, and one account's page with password reset and its API
tokens (create, revoke).

Everything goes through accounts.py, so the console refuses exactly what the CLI and the admin API refuse
(the admin guards included), and every change is written to the audit log like the admin API writes it. A
generated password or a new token travels in that one response only: never in a flash message or the
session (a cookie the browser keeps), never shown again. Forms are plain POSTs that work without
JavaScript; with HTMX a row action swaps its row and an action on the account page swaps the account block.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NoReturn

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import login_user

from reportsvc.state import accounts, audit
from reportsvc.state import login as login_state
from reportsvc.state.accounts import AccountConflict, AccountError
from reportsvc.state.models import ROLES, User
from reportsvc.web.access import current_actor, current_principal
from reportsvc.web.errors import error_page
from reportsvc.web.login import SessionUser
from reportsvc.web.requests import is_htmx

bp = Blueprint("console_users", __name__, url_prefix="/console")

@dataclass
class AccountForm:
    """What a form showed back (never a password) and one error per field."""

    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Secret:
    """A generated password or a new token, put in this one response and nowhere else."""

    kind: str
    value: str
    owner: str


def _vary(response: Response) -> Response:
    response.headers.add("Vary", "HX-Request")
    return response


def _not_found(message: str) -> NoReturn:
    # The console's generic 404 text talks about wrong links; here the page exists, the account does not.
    abort(make_response(error_page(404, message, "No such account")))


def _load(name: str) -> User:
    user = accounts.get_user(name)
    if user is None:
        _not_found(f"There is no account named {name[:64]!r}. Names are case-sensitive.")
    return user


def _record(action: str, target: str, outcome: str, **detail: Any) -> None:
    audit.record(current_actor(), action, target, outcome, {"via": "console", **detail})


def _blank_create_form() -> AccountForm:
    return AccountForm(values={"name": "", "role": "viewer"})


# --------------------------------------------------------------------------- form checks


def password_choice(form: Mapping[str, str]) -> tuple[str | None, dict[str, str]]:
    """(typed password or None to generate one, errors): both fields empty means generate."""
    password, confirm = form.get("password", ""), form.get("confirm", "")
    if not password and not confirm:
        return None, {}
    try:
        accounts.check_password(password)
    except AccountError as exc:
        return None, {"password": str(exc)}
    if password != confirm:
        return None, {"confirm": "the two passwords differ"}
    return password, {}


def new_user_form(form: Mapping[str, str]) -> tuple[AccountForm, str | None]:
    """The create form checked by accounts' own rules, every field at once; (form, typed password or None)."""
    result = AccountForm(values={"name": form.get("name", "").strip(), "role": form.get("role", "")})
    for name, check in (("name", accounts.check_name), ("role", accounts.check_role)):
        try:
            check(result.values[name])
        except AccountError as exc:
            result.errors[name] = str(exc)
    password, errors = password_choice(form)
    result.errors.update(errors)
    return result, password


# --------------------------------------------------------------------------- list and create


def _form_context() -> dict[str, Any]:
    return {"roles": ROLES, "min_password": accounts.MIN_PASSWORD, "me": current_actor()}


def _list_context() -> dict[str, Any]:
    return {"users": accounts.list_users(), "token_counts": accounts.active_token_counts(), **_form_context()}


@bp.get("/users")
def index() -> Response:
    """Every account: role, state, created, last sign-in, active tokens; plus the create form."""
    if is_htmx():
        return _vary(make_response(render_template("console/users/_list.html", **_list_context())))
    html = render_template("console/users/index.html", form=_blank_create_form(), form_open=False, created=None,
                           secret=None, **_list_context())
    return _vary(make_response(html))


def _create_user(form: AccountForm, password: str | None) -> tuple[User | None, str | None]:
    """(the new account, its generated password or None); a refusal lands in form.errors."""
    generated = accounts.generate_password() if password is None else None
    try:
        user = accounts.create_user(form.values["name"], form.values["role"], password or generated)
    except AccountError as exc:
        form.errors[exc.field] = str(exc)
        return None, None
    return user, generated


@bp.post("/users")
def create() -> Response:
    """Create an account with a typed or generated password; bad input is a 422 with the errors inline."""
    form, password = new_user_form(request.form)
    user, generated = _create_user(form, password) if not form.errors else (None, None)
    if user is None:
        return _create_response(form, None, None, 422)
    _record("user.create", f"user:{user.name}", "ok", role=user.role,
            password="generated" if generated else "typed")
    secret = Secret("password", generated, user.name) if generated else None
    return _create_response(_blank_create_form(), user, secret, 201)


def _create_response(form: AccountForm, created: User | None, secret: Secret | None, status: int) -> Response:
    if is_htmx():
        html = render_template("console/users/_create.html", form=form, created=created, secret=secret,
                               **_form_context())
        response = make_response(html, status)
        if created is not None:
            response.headers["HX-Trigger"] = "userCreated"  # the list re-fetches itself on this event
        return _vary(response)
    if created is not None and secret is None:
        flash(f"Created {created.role} {created.name}.", "success")
        return redirect(url_for(".index"), 303)  # type: ignore[return-value]
    # A secret cannot survive a redirect (it is kept nowhere), so the page itself carries it.
    html = render_template("console/users/index.html", form=form, form_open=True, created=created, secret=secret,
                           **_list_context())
    return _vary(make_response(html, status))


# --------------------------------------------------------------------------- one account


def _lock_note(user: User) -> datetime | None:
    """When the last sign-in lockout still running (of some client address) ends, else None."""
    return login_state.address_lock(user.id)[1]


def _detail_context(name: str, secret: Secret | None = None, form: AccountForm | None = None) -> dict[str, Any]:
    user = _load(name)
    return {"user": user, "tokens": [row for row, _ in accounts.list_tokens(name)], "secret": secret,
            "form": form or AccountForm(), "locked_until": _lock_note(user), **_form_context(),
            "api_base": current_app.extensions["reportsvc.settings"].app_base_url.rstrip("/")}


@bp.get("/users/<name>")
def detail(name: str) -> Response:
    """One account: its facts, role and state controls, password reset, and its API tokens."""
    template = "console/users/_detail.html" if is_htmx() else "console/users/detail.html"
    return _vary(make_response(render_template(template, **_detail_context(name))))


def _account_response(name: str, status: int = 200, *, secret: Secret | None = None,
                      form: AccountForm | None = None) -> Response:
    """After an action: the fresh row or account block plus the flashes (HTMX); else a redirect back, or the
    whole account page when it has to carry a secret or a form's errors."""
    view = request.form.get("view", "detail")  # "row" (a list row) or "detail" (the account page)
    if is_htmx():
        if view == "row":
            user = _load(name)
            html = render_template("console/users/_row_response.html", user=user, **_form_context(),
                                   active_tokens=accounts.active_token_counts().get(user.id, 0))
        else:
            html = render_template("console/users/_detail.html", **_detail_context(name, secret, form))
        return _vary(make_response(html + render_template("console/_flashes_oob.html"), status))
    if secret is None and form is None:
        return redirect(url_for(".index") if view == "row" else url_for(".detail", name=name), 303)  # type: ignore[return-value]
    html = render_template("console/users/detail.html", **_detail_context(name, secret, form))
    return _vary(make_response(html, status))


def _refused(action: str, name: str, exc: AccountError) -> Response:
    """A refusal says why; an admin guard's refusal is also audited (someone tried to lock admins out)."""
    conflict = isinstance(exc, AccountConflict)
    if conflict:
        _record(action, f"user:{name}", "refused", reason=str(exc))
    flash(f"Not changed: {exc}.", "error")
    return _account_response(name, 409 if conflict else 422)


@bp.post("/users/<name>/role")
def set_role(name: str) -> Response:
    """Change an account's role; demoting yourself or the last enabled admin is refused (409)."""
    old, role = _load(name).role, request.form.get("role", "")
    if role == old:
        flash(f"{name} is already {role}.", "info")
        return _account_response(name)
    try:
        accounts.set_role(name, role, actor=current_actor())
    except AccountError as exc:
        return _refused("user.set_role", name, exc)
    _record("user.set_role", f"user:{name}", "ok", **{"from": old, "to": role})
    flash(f"{name} is now {role}.", "success")
    return _account_response(name)


@bp.post("/users/<name>/disable")
def disable(name: str) -> Response:
    """Disable an account: its sessions end and its tokens stop working; yourself / last admin refused."""
    return _set_disabled(name, True)


@bp.post("/users/<name>/enable")
def enable(name: str) -> Response:
    """Re-enable a disabled account (its password and tokens work again)."""
    return _set_disabled(name, False)


def _set_disabled(name: str, disabled: bool) -> Response:
    action = "user.disable" if disabled else "user.enable"
    # Only a real change goes to accounts: re-enabling an enabled account would end its sessions for nothing.
    if _load(name).disabled == disabled:
        flash(f"{name} is already {'disabled' if disabled else 'enabled'}.", "info")
        return _account_response(name)
    try:
        accounts.set_disabled(name, disabled, actor=current_actor())
    except AccountError as exc:
        return _refused(action, name, exc)
    _record(action, f"user:{name}", "ok")
    flash(f"{name} disabled: its sessions have ended and its tokens stopped working." if disabled
          else f"{name} enabled: its password and tokens work again.", "success")
    return _account_response(name)


def _keep_own_session(user: User) -> None:
    """A password change ends the account's sessions (auth_epoch); when admins change their own, this one stays."""
    principal = current_principal()
    if principal is not None and principal.via == "session" and principal.user_id == user.id:
        login_user(SessionUser(user))


@bp.post("/users/<name>/sessions/end")
def end_sessions(name: str) -> Response:
    """Sign an account out everywhere: all its console sessions end (its API tokens keep working)."""
    _load(name)
    accounts.end_sessions(name)
    _record("user.end_sessions", f"user:{name}", "ok")
    flash(f"{name} is signed out everywhere: every console session of the account has ended.", "success")
    return _account_response(name)


@bp.post("/users/<name>/password")
def reset_password(name: str) -> Response:
    """Set a typed password or generate one (shown once); unlocks the account and ends its sessions."""
    _load(name)
    password, errors = password_choice(request.form)
    if errors:
        return _account_response(name, 422, form=AccountForm(errors=errors))
    chosen = password if password is not None else accounts.generate_password()
    _keep_own_session(accounts.set_password(name, chosen))
    _record("user.set_password", f"user:{name}", "ok", password="typed" if password else "generated")
    flash(f"Password of {name} changed; its other sessions have ended.", "success")
    return _account_response(name, secret=None if password else Secret("password", chosen, name))


@bp.post("/users/<name>/tokens")
def create_token(name: str) -> Response:
    """Create an API token for the account; the token is in this response only (201)."""
    _load(name)
    label = request.form.get("label", "").strip()
    try:
        row, token = accounts.create_token(name, label or None)
    except AccountError as exc:
        return _account_response(name, 422, form=AccountForm(values={"label": label}, errors={exc.field: str(exc)}))
    _record("token.create", f"user:{name}", "ok", token_id=row.id, prefix=row.prefix)
    flash(f"Token {row.prefix}… created for {name}.", "success")
    return _account_response(name, 201, secret=Secret("token", token, name))


@bp.post("/users/<name>/tokens/<token_id>/revoke")
def revoke_token(name: str, token_id: str) -> Response:
    """Revoke one of the account's tokens; it stops working at once here, in other web processes within
    TOKEN_CACHE_SECONDS (see accounts)."""
    _load(name)
    try:
        if not token_id.isdigit() or len(token_id) > 18:
            raise AccountError("token", "token ids are whole numbers")
        row = accounts.revoke_token(int(token_id), owner=name)
    except AccountError:
        _not_found(f"{name[:64]} has no API token with id {token_id[:20]!r}.")
    _record("token.revoke", f"token:{row.id}", "ok", prefix=row.prefix, user=name)
    flash(f"Token {row.prefix}… of {name} revoked.", "success")
    return _account_response(name)
