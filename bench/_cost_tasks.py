"""`dramatiq bench._cost_tasks`: the product's worker (reportsvc.tasks) plus the one-page bench type."""

from bench import _page_type
from reportsvc.tasks import *  # noqa: F403  (the actors, the broker, the app factory)

_page_type.register()
