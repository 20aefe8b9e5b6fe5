"""The names the service's processes agree on: Dramatiq namespace, queues and actors.

Kept apart from the broker and the actors so that the service layer can send a message by name, and the
queue views and metrics can name queues, without importing the worker.
"""

NAMESPACE = "dramatiq"
REPORTS_QUEUE = "reports"
#: The batch lane's queue: generate messages of `priority: batch` reports (the interactive lane is REPORTS_QUEUE).
BATCH_QUEUE = "reports-batch"
NOTIFICATIONS_QUEUE = "notifications"
MAINTENANCE_QUEUE = "maintenance"
#: Priority lanes: a report's priority names the queue its generate messages travel on.
LANES = {"interactive": REPORTS_QUEUE, "batch": BATCH_QUEUE}
#: Queues whose depth the console, the metrics and the operations report show.
QUEUES = (REPORTS_QUEUE, BATCH_QUEUE, NOTIFICATIONS_QUEUE)
#: Every queue the service's actors consume.
ALL_QUEUES = (REPORTS_QUEUE, BATCH_QUEUE, NOTIFICATIONS_QUEUE, MAINTENANCE_QUEUE)

# Actor names as they appear in message bodies.
GENERATE_ACTOR = "generate_report"
EMAIL_ACTOR = "send_report_email"
BULK_JOB_ACTOR = "run_bulk_job"
WEBHOOK_ACTOR = "send_report_webhook"
ALERT_ACTOR = "send_alert"
#: Messages of these actors carry a report id as args[0]; queue views are told so by their callers.
REPORT_ACTORS: frozenset[str] = frozenset({GENERATE_ACTOR, EMAIL_ACTOR, WEBHOOK_ACTOR})

#: Sorted set of scheduler processes (host:pid) and when each last evaluated the alert rules (epoch ms).
SCHEDULER_BEATS_KEY = "reportsvc:schedulers"
#: Redis pub/sub channel of the console's live events (reportsvc.state.lifecycle publishes after commit).
EVENTS_CHANNEL = "reportsvc:events"
#: Bumped by every report transition (with its event): cached status counts older than it are stale.
COUNTS_GENERATION_KEY = "reportsvc:counts:generation"
