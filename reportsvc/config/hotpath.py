"""Settings of the hot paths (issue 16): costs per report and per request that trade nothing an operator sees
by default, each with the previous behaviour one value away.

Kept in their own frozen dataclass (read by `reportsvc.config.hotpath_load`), so the main Settings grows by
one field only. Imports nothing from the config package: settings.py imports it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class HotPathSettings:
    """Database pool checkout and the worker's per-job overheads."""

    #: DB_PING_IDLE_SECONDS: a pooled connection idle at least this long is pinged before use (a restarted
    #: PostgreSQL is noticed before a statement fails); one used more recently is handed out as it is.
    #: 0 pings on every checkout (SQLAlchemy's pool_pre_ping, the behaviour before this setting).
    db_ping_idle_seconds: float = 1.0
    #: WORKER_LOG_QUEUE: a worker process's job threads hand log records to one writer thread (a QueueHandler)
    #: instead of each writing to Dramatiq's pipe to the parent under the handler's lock. Same lines, same
    #: order; off (0) writes from the job thread, as before.
    worker_log_queue: bool = True
    #: WORKER_HEARTBEAT_SHARED: one heartbeat thread per worker process beats every claim it holds in one UPDATE
    #: (reportsvc.worker.heartbeat); off (0) starts and joins a heartbeat thread per job, as before.
    worker_heartbeat_shared: bool = True
    #: EMAIL_INLINE: the generate job sends the READY email itself once READY has committed (the email actor's
    #: first attempt, same claim and timeline events); a failure queues the email actor's message for the
    #: remaining retries. Off (0): every email is a second message on the notifications queue, as before.
    email_inline: bool = True
    #: WORKER_METRICS_BUFFERED: a job's metric counts go to the worker process's buffer, pushed to Redis by one
    #: thread every second (as the web does); off (0) pushes each job's counts in a round trip of its own.
    worker_metrics_buffered: bool = True
    #: WORKER_LOG_LINES: "summary" writes one INFO line per finished job to the worker's own log (the steps
    #: still go to the report's log, the console's Logs tab); "verbose" writes every step there too.
    worker_log_lines: str = "summary"
    #: WORKER_DIRECT_SQL: the worker's fenced statements (claim, heartbeat, progress, finish) run on the pooled
    #: psycopg connection with prepared statements, not through the ORM session (same SQL, same transactions);
    #: off (0) uses the session, as before.
    worker_direct_sql: bool = True
    #: LIVE_UPDATE_BATCH_MS: a worker process queues its console live updates (the PUBLISH and counts INCR of
    #: each claim, progress and finish) for one thread that sends everything queued in one pipeline this many ms
    #: after the first (reportsvc.state.live_updates); order kept, flushed at shutdown. 0 publishes each from
    #: the job thread at once, as before; 5 was the default until the batching thread's own CPU was measured
    #: (~120 us a report at 5 ms, ~35 us at 50 ms: a batch then holds a dozen reports' events, not one or two).
    live_update_batch_ms: int = 50
    #: CREATE_LOG_LINE: each created report writes "Job <id> enqueued as message <id>" at INFO (on: as before
    #: issue 16). Off (the default) writes it at DEBUG: the row's message id and its 'created' event already say
    #: it, and on `POST /reports` the line was 5 % of the request's CPU.
    create_log_line: bool = False
    #: REPORT_LOG_BATCH_MS: a worker process's jobs hand their attempt's last report-log lines to one writer
    #: thread, which writes every report's lines held this many ms after the first in one INSERT
    #: (reportsvc.worker.report_log_writer); written at shutdown too. 0: each job writes its own, as before.
    report_log_batch_ms: int = 20
    #: EMAIL_KEEPALIVE_SECONDS: a worker process keeps its SMTP connections open between emails and closes each
    #: one after it sat unused this many seconds, and at shutdown (reportsvc.worker.smtp_session); a connection
    #: the server dropped meanwhile is replaced before the message is sent. 0: a new connection (connect, EHLO,
    #: QUIT) for each email, as before. Keep it below any NAT or firewall idle timeout on the way to the server.
    email_keepalive_seconds: float = 30.0
    #: EMAIL_TIMEOUT_SECONDS: the socket timeout of a kept SMTP connection (EMAIL_KEEPALIVE_SECONDS above 0),
    #: from the connect on: a server, or a path to it, that stops answering fails the send within it (a failed
    #: attempt, retried as any other) instead of holding the email until TCP gives up. 0: no timeout, as before.
    email_timeout_seconds: float = 30.0
    #: WORKER_FETCH_BATCH: a worker's consumer of a queue runs Dramatiq's fetch script only once this many
    #: messages fit under its prefetch (capped at half of it: the worker's threads with Dramatiq's default
    #: prefetch of twice the threads), so a busy queue is fetched in batches rather than every two or three
    #: messages;
    #: no thread waits for work meanwhile (fewer messages held than threads means room for the batch).
    #: 1: fetch whenever one message fits, as Dramatiq does.
    worker_fetch_batch: int = 8
    #: WORKER_IDLE_POLL_MS: the longest a worker's idle consumer sleeps between two fetch scripts (Dramatiq's
    #: backoff, jittered between half of it and all of it). Each queue and its delay queue has a consumer, so an
    #: idle worker process runs ~13 fetch scripts a second per queue at 100 (~33 ms of CPU a second for the
    #: eight); a message on an idle queue waits for the next one, and a retry comes due up to about twice this late.
    worker_idle_poll_ms: int = 100
    #: CREATE_FAST_PATH: an ordinary `POST /reports` (a known bearer token, a JSON body the checks accept, no
    #: notify_email) is answered by reportsvc.web.fast_create without Flask's request cycle: same checks in the
    #: same order, same limit counters, same 202 and headers; anything else still goes through Flask. 0 sends
    #: every create through Flask, as before.
    create_fast_path: bool = True
