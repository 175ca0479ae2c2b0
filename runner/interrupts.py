"""Signals that stop a run: each becomes an exception, so the run ends as Ctrl-C ends it (marked
KILLED in MLflow, its log and checkpoints logged, the resume command said) instead of the process
dying on the spot with its run left RUNNING.

SIGINT is Python's KeyboardInterrupt already. ``STOP_SIGNALS`` are raised as ``Terminated``:
SIGTERM (a scheduler's stop or a cloud's preemption, ``docker stop``, ``kill PID``) and SIGHUP (the
terminal, an ssh session, gone). During ``fit`` all of them only ask it to stop at the end of the
batch (``callbacks.StopOnInterrupt``).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


class Terminated(KeyboardInterrupt):
    """A ``STOP_SIGNALS`` signal, raised where it landed (``raise_terminated``)."""

    def __init__(self, signum: int = signal.SIGTERM) -> None:
        super().__init__(signum)
        self.signum = signum
        self.name = signal.Signals(signum).name


def raise_terminated(signum: int, frame: object) -> None:
    raise Terminated(signum)


@contextmanager
def handled(signals: tuple[int, ...], handler: Callable[[int, Any], None]) -> Iterator[None]:
    """``handler`` for ``signals`` while inside; not for one this process was started ignoring
    (``nohup`` ignores SIGHUP, a script's background job SIGINT), nor outside the main thread,
    where Python takes no handler."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    ignored = [sig for sig in signals if signal.getsignal(sig) is signal.SIG_IGN]
    previous = {sig: signal.signal(sig, handler) for sig in signals if sig not in ignored}
    try:
        yield
    finally:
        for sig, before in previous.items():
            signal.signal(sig, before)
