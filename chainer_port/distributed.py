"""The Chainer twin's data-parallel runs on ChainerMN (Chainer 7.8.1's own distributed engine,
over mpi4py): one process a worker, gradients averaged by allreduce before every update
(docs/distributed.md).

ChainerMN's `create_multi_node_optimizer` is not used: its first `update()` only broadcasts
worker 0's weights and applies no gradient, so an N-worker run would be one step behind the
one-process run from the start. The same two calls are made here in their places: the
broadcast once when the run starts, `multi_node_mean_grad` before every update (or, for a preset
whose `worker_gradients` is "sum", the E3D-LSTM code's, an allreduce that adds them).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

import chainer
import numpy as np

from common.arrays import digest
from common.watchdog import Watchdog
from spec.pair import worker_gradients


class ChainerWorld:
    """This process's place in the run (`twinport.workers.World`), on ChainerMN's "naive"
    communicator: the host's arrays, any MPI (GPU arrays are copied to it and back)."""

    def __init__(self, timeout: float, device: str) -> None:
        import chainermn
        from mpi4py import MPI

        self.communicator = chainermn.create_communicator("naive")
        self.rank, self.workers = self.communicator.rank, self.communicator.size
        self.device = device
        self.watchdog = Watchdog(self.rank, self.workers, timeout)
        self.watchdog.on_peer_failure()
        self._mpi = self.communicator.mpi_comm
        self._lor, self._sum, self._in_place = MPI.LOR, MPI.SUM, MPI.IN_PLACE
        self._mpi_error = MPI.Exception

    def guarded(self) -> contextlib.AbstractContextManager:
        return self.watchdog.stopping_on(self._mpi_error)

    def finish(self) -> None:
        with self.watchdog.waiting("the other workers' last step"):
            self._mpi.Barrier()
        self.watchdog.finished()

    def attach(self, model: Any) -> None:
        with self.watchdog.waiting("worker 0's weights"):
            self.communicator.bcast_data(model)

        summed = worker_gradients(model.preset) == "sum"

        def gradient_mean() -> None:
            contiguous_gradients(model)
            with self.watchdog.waiting("the gradients' allreduce"):
                if not summed:
                    self.communicator.multi_node_mean_grad(model)
                    return
                for _, param in sorted(model.namedparams()):
                    if param.grad is not None:
                        grad = chainer.backends.cuda.to_cpu(param.grad)
                        self._mpi.Allreduce(self._in_place, grad, op=self._sum)
                        param.grad = param.xp.asarray(grad)

        model.gradient_mean = gradient_mean

    def mean(self, values: Mapping[str, Any], what: str) -> dict[str, Any]:
        arrays = {name: np.asarray(value, np.float64) for name, value in values.items()}
        flat = np.concatenate([array.ravel() for array in arrays.values()])
        with self.watchdog.waiting(what):
            self._mpi.Allreduce(self._in_place, flat, op=self._sum)
        flat /= self.workers
        out, start = {}, 0
        for name, array in arrays.items():
            part = flat[start:start + array.size].reshape(array.shape)
            out[name] = float(part) if array.ndim == 0 else part
            start += array.size
        return out

    def any(self, flag: bool, what: str) -> bool:
        with self.watchdog.waiting(what):
            return bool(self._mpi.allreduce(bool(flag), op=self._lor))

    def same(self, arrays: Mapping[str, np.ndarray], what: str) -> bool:
        with self.watchdog.waiting(what):
            return len(set(self._mpi.allgather(digest(arrays)))) == 1


def contiguous_gradients(model: chainer.Link) -> None:
    """Every parameter's gradient in C-contiguous memory. ChainerMN packs the gradients (and MPI
    sends them) as flat memory from each array's first element, while a node may give a
    gradient as a view of other memory (the CPU fast path: a channels-last map's NCHW view, one
    block of the kernels a gate convolution joined): packed as it is, such a gradient is other
    values, and the workers' updates differ."""
    for param in model.params():
        if param.grad is not None and not param.grad.flags.c_contiguous:
            param.grad = param.xp.ascontiguousarray(param.grad)
