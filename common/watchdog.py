"""A time limit on a data-parallel run's collectives, and one line instead of a traceback or a
silent death when another worker is gone (`twinport.workers`, docs/distributed.md)."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator


class Watchdog:
    """A time limit on each collective: past `timeout` seconds, one line on stderr naming this
    worker and what it waited for, then exit status 1 (the collective cannot be cancelled)."""

    def __init__(self, rank: int, workers: int, timeout: float) -> None:
        self.rank, self.workers, self.timeout = rank, workers, timeout

    @contextlib.contextmanager
    def waiting(self, what: str) -> Iterator[None]:
        timer = threading.Timer(self.timeout, self._give_up, args=(what,))
        timer.daemon = True
        timer.start()
        try:
            yield
        finally:
            timer.cancel()

    def _give_up(self, what: str) -> None:
        self.stop(f"no answer from the other workers in {self.timeout:g} s ({what}): taking "
                  "it that one has stopped")

    def stop(self, why: str) -> None:
        """One line naming this worker and `why`, then exit status 1 at once (the other
        workers are gone or stuck: nothing more can be shared)."""
        print(f"twinport: error: worker {self.rank} of {self.workers}: {why}; this one stops "
              "too (the last checkpoint stays whole)", file=sys.stderr, flush=True)
        os._exit(1)

    @contextlib.contextmanager
    def stopping_on(self, *failures: type[BaseException]) -> Iterator[None]:
        """Within: an error of the `failures` types (a collective that lost a peer) stops this
        worker with one line instead of a traceback."""
        try:
            yield
        except failures as error:
            reason = str(error).strip().splitlines()[0] if str(error).strip() else ""
            self.stop(f"a collective failed ({type(error).__name__}: {reason[:200]}): "
                      "another worker has stopped")

    def finished(self) -> None:
        """The run is over on every worker: another's exit is no longer news."""
        signal.signal(signal.SIGUSR1, signal.SIG_IGN)

    def on_peer_failure(self) -> None:
        """MPICH signals SIGUSR1 to the others when a process of the job dies (Python's default
        for it would end this one without a word): stop with one line instead."""
        signal.signal(signal.SIGUSR1,
                      lambda signum, frame: self.stop("another worker has stopped"))
