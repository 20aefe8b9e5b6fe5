"""Unbound Flask extensions; create_app() binds them with init_app."""

import logging

from flask_login import LoginManager
from flask_mail import Mail
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy.orm import DeclarativeBase

# Importing Flask-Migrate imports Alembic, which announces each autogenerate plugin at INFO right then: in a
# worker or scheduler that is seven "setup plugin" lines at every start, before any logging set-up of ours.
logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
from flask_migrate import Migrate  # noqa: E402


class Base(DeclarativeBase):
    """Declarative base shared by every model."""


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
mail = Mail()

# -- access control (issue 6); configured in reportsvc.web.auth.init_app -----------------------------


login_manager = LoginManager()
csrf = CSRFProtect()
# Rate limits are reportsvc.web.limits' (attached per endpoint by reportsvc.web.auth; counters in Redis).
