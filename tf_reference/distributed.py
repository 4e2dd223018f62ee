"""The TF twin's data-parallel runs on `tf.distribute.MultiWorkerMirroredStrategy`: one
process a worker, each worker one replica, its train step run as that replica with the
gradients averaged by one collective all-reduce before the update (docs/distributed.md).

The cluster is TF_CONFIG's. On one machine `twinport train --workers N` starts the workers with
`mpiexec` (as a process launcher only: TF does not use MPI) and gives them N free loopback ports
(`PORTS_VARIABLE`); each worker writes its own TF_CONFIG from its rank. On a cluster each host
sets TF_CONFIG itself. The strategy is created before the twin, so the run's first TF
operation is the cluster's.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import tensorflow as tf

from common.arrays import digest
from common.launch_env import PORTS_VARIABLE
from common.watchdog import Watchdog

PEER_FAILURES = (tf.errors.UnavailableError, tf.errors.CancelledError,
                 tf.errors.DeadlineExceededError, tf.errors.AbortedError)
"""What TF's collectives raise when a worker is gone (a closed socket, the strategy's timeout)."""


def loopback_config(rank: int, ports: str) -> str:
    """TF_CONFIG of worker `rank` of a cluster on this machine's `ports`."""
    workers = [f"localhost:{port}" for port in ports.split(",")]
    return json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker",
                                                                "index": rank}})


class TFWorld:
    """This process's place in the run (`twinport.workers.World`) on MultiWorkerMirroredStrategy;
    `rank` and `workers` are its cluster's (TF_CONFIG)."""

    def __init__(self, rank: int, workers: int, timeout: float, device: str) -> None:
        if PORTS_VARIABLE in os.environ:
            os.environ["TF_CONFIG"] = loopback_config(rank, os.environ[PORTS_VARIABLE])
        # One replica a worker: the strategy mirrors over every GPU it sees, so a worker sees
        # its own GPU only (none on the CPU), which it then calls GPU 0.
        gpus = tf.config.list_physical_devices("GPU")
        if gpus:
            tf.config.set_visible_devices([] if device == "cpu" else [gpus[int(device)]], "GPU")
        self.device = device if device == "cpu" else "0"
        options = tf.distribute.experimental.CommunicationOptions(timeout_seconds=timeout)
        self.watchdog = Watchdog(rank, workers, timeout)
        with self.watchdog.waiting("the TF cluster's start"):
            self.strategy = tf.distribute.MultiWorkerMirroredStrategy(
                communication_options=options)
        self.rank = self.strategy.cluster_resolver.task_id
        self.workers = self.strategy.num_replicas_in_sync
        self.watchdog.on_peer_failure()
        strategy = self.strategy
        # Traced once per list of shapes: the same few calls every step. The values are made
        # inside the replica (an input passed through has no device to reduce from).
        self._sum = tf.function(lambda values: strategy.run(
            lambda local: tf.distribute.get_replica_context().all_reduce(
                tf.distribute.ReduceOp.SUM, [tf.identity(value) for value in local]),
            args=(values,)))

    def _all_reduce(self, values: list[tf.Tensor], what: str) -> list[np.ndarray]:
        """The SUM of each tensor over the workers, as NumPy arrays; one all-reduce per dtype
        (a batch of them is packed into one buffer)."""
        out: list[np.ndarray | None] = [None] * len(values)
        for dtype in {value.dtype for value in values}:
            places = [k for k, value in enumerate(values) if value.dtype == dtype]
            with self.watchdog.waiting(what):
                reduced = self._sum([values[k] for k in places])
            for k, value in zip(places, reduced, strict=True):
                out[k] = np.asarray(value)
        return out

    def guarded(self) -> contextlib.AbstractContextManager:
        return self.watchdog.stopping_on(*PEER_FAILURES)

    def finish(self) -> None:
        self._all_reduce([tf.constant(0.0, tf.float64)], "the other workers' last step")
        self.watchdog.finished()

    def attach(self, model: Any) -> None:
        keep = 1.0 if self.rank == 0 else 0.0
        names = list(model.named_variables)
        summed = self._all_reduce([tf.convert_to_tensor(model.named_variables[name]) * keep
                                   for name in names], "worker 0's weights")
        for name, value in zip(names, summed, strict=True):
            model.named_variables[name].assign(value)
        model.strategy = self.strategy

    def mean(self, values: Mapping[str, Any], what: str) -> dict[str, Any]:
        arrays = {name: np.asarray(value, np.float64) for name, value in values.items()}
        summed = self._all_reduce([tf.constant(array) for array in arrays.values()], what)
        return {name: (float(total) if np.ndim(total) == 0 else total) / self.workers
                for name, total in zip(arrays, summed, strict=True)}

    def any(self, flag: bool, what: str) -> bool:
        return bool(self._all_reduce([tf.constant(float(flag), tf.float64)], what)[0] > 0)

    def same(self, arrays: Mapping[str, np.ndarray], what: str) -> bool:
        code = np.frombuffer(digest(arrays), np.uint8).astype(np.float64)
        total, squares = self._all_reduce([tf.constant(code), tf.constant(code * code)], what)
        # Equal on every worker exactly when the spread of each byte is zero.
        return bool(np.all(total * total == self.workers * squares))

