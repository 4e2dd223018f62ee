"""A `twinport.bench.worker` subprocess, driven one request at a time."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import tempfile
from typing import Any

from common.errors import UserError
from twinport.bench.worker import REPLY


class WorkerProcess:
    """One backend's worker: `call(op, **args)` returns its reply; stderr goes to a temp file
    (read back only to explain a failure)."""

    def __init__(self, role: str, backend: str, model: str, preset: str, workdir: str,
                 env: dict[str, str]) -> None:
        self.role = role
        self.stderr = tempfile.TemporaryFile("w+")
        command = [sys.executable, "-m", "twinport.bench.worker", "--backend", backend,
                   "--model", model, "--preset", preset, "--workdir", workdir]
        self.process = subprocess.Popen(command, env=env, stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=self.stderr, text=True)
        self._reply()  # "ready": the model is built (the TF worker has saved the weights)

    def call(self, op: str, **args: Any) -> Any:
        try:
            self.process.stdin.write(json.dumps({"op": op, "args": args}) + "\n")
            self.process.stdin.flush()
        except BrokenPipeError:
            pass  # the worker has ended: `_reply` says how
        return self._reply()

    def _reply(self) -> Any:
        for line in self.process.stdout:
            if line.startswith(REPLY):
                reply = json.loads(line[len(REPLY):])
                if "error" in reply:
                    raise UserError(f"bench worker {self.role}: {reply['error']}")
                return reply["result"]
        self.stderr.seek(0)
        tail = "\n".join(self.stderr.read().strip().splitlines()[-5:])
        raise UserError(f"bench worker {self.role} {ended(self.process.wait())}:\n{tail}")

    def close(self) -> None:
        if self.process.stdin and not self.process.stdin.closed:
            with contextlib.suppress(BrokenPipeError):
                self.process.stdin.close()
        self.process.wait()
        self.stderr.close()


def ended(status: int) -> str:
    """How a worker ended, from its exit status."""
    if status == -signal.SIGKILL:
        return ("was killed (SIGKILL: out of memory? every worker holds its own model at once; "
                "a smaller --preset needs less)")
    return f"exited ({status})"
