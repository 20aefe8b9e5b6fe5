"""Keeping a running report's claim fresh, and noticing a lost claim or a cancel request while it renders.

By default (WORKER_HEARTBEAT_SHARED) one thread per worker process beats every claim the process holds in
one UPDATE (`lifecycle.heartbeat_many`) each HEARTBEAT_INTERVAL_SECONDS: a job only adds its claim to the
set and removes it, instead of starting and joining a thread of its own. A claim is beaten at most an
interval after it was added and then every interval, as the per-job thread did. With the setting off, each
job gets its own thread again (`JobHeartbeat`, the earlier behaviour).
"""

from __future__ import annotations

import logging
import threading
import uuid
from typing import Protocol

from reportsvc.state import lifecycle
from reportsvc.worker import context
from reportsvc.worker.report_log import Capture

log = logging.getLogger("reportsvc.worker")


class Heartbeat(Protocol):
    """What a running job sees of its heartbeat: two flags, and stop()."""

    lost: threading.Event
    cancel: threading.Event

    def stop(self) -> None:
        """Stop beating this claim."""


def start(report_id: uuid.UUID, run_id: uuid.UUID, interval: float, *, shared: bool,
          capture: Capture | None = None) -> Heartbeat:
    """Begin beating this claim: on the process's shared heartbeat thread, or on a thread of its own.

    Each beat also flushes the job's captured log lines (`capture`), so the console's Logs tab is live."""
    if shared:
        return _shared(interval).add(report_id, run_id, capture)
    beat = JobHeartbeat(report_id, run_id, interval, capture)
    beat.start()
    return beat


def _apply(hold: str, lost: threading.Event, cancel: threading.Event) -> None:
    if hold == "lost":
        lost.set()
    elif hold == "cancel":
        cancel.set()


class JobHeartbeat(threading.Thread):
    """One thread for one claim (WORKER_HEARTBEAT_SHARED=0)."""

    def __init__(self, report_id: uuid.UUID, run_id: uuid.UUID, interval: float,
                 capture: Capture | None = None) -> None:
        super().__init__(name=f"heartbeat-{report_id}", daemon=True)
        self.report_id, self.run_id, self.interval, self.capture = report_id, run_id, interval, capture
        self.stop_event = threading.Event()
        self.lost = threading.Event()
        self.cancel = threading.Event()

    def run(self) -> None:
        """Beat every interval until stopped; a database hiccup is retried on the next beat."""
        app = context.get_app()
        while not self.stop_event.wait(self.interval):
            try:
                with app.app_context():
                    _apply(lifecycle.heartbeat(self.report_id, self.run_id), self.lost, self.cancel)
                    if self.capture is not None:
                        self.capture.flush()
                if self.lost.is_set():
                    return
            except Exception as exc:
                log.warning("Job %s heartbeat failed: %s", self.report_id, exc)

    def stop(self) -> None:
        """Stop beating and wait for the thread."""
        self.stop_event.set()
        self.join(timeout=5)


class Lease:
    """One claim on the shared heartbeat thread."""

    def __init__(self, beater: SharedHeartbeat, report_id: uuid.UUID, run_id: uuid.UUID,
                 capture: Capture | None) -> None:
        self.beater, self.key, self.capture = beater, (report_id, run_id), capture
        self.lost = threading.Event()
        self.cancel = threading.Event()

    def stop(self) -> None:
        """Take the claim off the set and wait for a beat under way, as joining the per-job thread did: after
        this returns nothing beats the claim or flushes its log lines (the job's last flush comes after)."""
        self.beater.remove(self)
        if self.beater.beating.acquire(timeout=5):
            self.beater.beating.release()


class SharedHeartbeat(threading.Thread):
    """The process's heartbeat thread: every interval, one UPDATE for every claim held."""

    def __init__(self, interval: float) -> None:
        super().__init__(name="reportsvc-heartbeat", daemon=True)
        self.interval = interval
        self._leases: dict[tuple[uuid.UUID, uuid.UUID], Lease] = {}
        self._lock = threading.Lock()
        #: Held for the whole of a beat; `Lease.stop` waits on it.
        self.beating = threading.Lock()

    def add(self, report_id: uuid.UUID, run_id: uuid.UUID, capture: Capture | None = None) -> Lease:
        """Beat this claim (and flush its captured log lines) from now on."""
        lease = Lease(self, report_id, run_id, capture)
        with self._lock:
            self._leases[lease.key] = lease
        return lease

    def remove(self, lease: Lease) -> None:
        """Stop beating this claim."""
        with self._lock:
            if self._leases.get(lease.key) is lease:
                del self._leases[lease.key]

    def beat(self) -> None:
        """One beat of every claim held now (the thread's body; tests call it directly)."""
        with self.beating:
            self._beat()

    def _beat(self) -> None:
        with self._lock:
            leases = list(self._leases.values())
        if not leases:
            return
        with context.get_app().app_context():
            holds = lifecycle.heartbeat_many([lease.key for lease in leases])
            for lease in leases:
                if lease.capture is not None:
                    lease.capture.flush()  # a failed flush keeps its lines for the next beat
        for lease in leases:
            _apply(holds[lease.key], lease.lost, lease.cancel)
            if lease.lost.is_set():
                self.remove(lease)

    def run(self) -> None:
        """Beat every interval, forever (a daemon thread); a database hiccup is retried on the next beat."""
        stop = threading.Event()
        while not stop.wait(self.interval):
            try:
                self.beat()
            except Exception as exc:
                log.warning("Heartbeat of %d claims failed: %s", len(self._leases), exc)


_beaters: dict[float, SharedHeartbeat] = {}
_beaters_lock = threading.Lock()


def _shared(interval: float) -> SharedHeartbeat:
    """The process's heartbeat thread for this interval, started on first use (after a fork, anew)."""
    with _beaters_lock:
        beater = _beaters.get(interval)
        if beater is None or not beater.is_alive():
            beater = _beaters[interval] = SharedHeartbeat(interval)
            beater.start()
        return beater
