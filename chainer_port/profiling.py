"""Where a Chainer train step spends its time, by function type (for `twinport bench`)."""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

from chainer.function_hook import FunctionHook


class ExclusiveTimer(FunctionHook):
    """Seconds per "<function> forward|backward", each node minus the nodes run inside it.

    Chainer's TimerHook counts a node's backward AND the gradient nodes that backward applies
    (Chainer's own convolutions and the fast path both do that), so its totals add up to more
    than the step.
    """

    name = "ExclusiveTimer"

    def __init__(self) -> None:
        self.seconds: defaultdict[str, float] = defaultdict(float)
        self._stack: list[list[float]] = []  # [start, seconds spent in nested nodes]

    def _pre(self) -> None:
        self._stack.append([time.perf_counter(), 0.0])

    def _post(self, function: Any, phase: str) -> None:
        start, nested = self._stack.pop()
        elapsed = time.perf_counter() - start
        self.seconds[f"{function.label} {phase}"] += elapsed - nested
        if self._stack:
            self._stack[-1][1] += elapsed

    def forward_preprocess(self, function: Any, in_data: Any) -> None:
        self._pre()

    def forward_postprocess(self, function: Any, in_data: Any) -> None:
        self._post(function, "forward")

    def backward_preprocess(self, function: Any, in_data: Any, out_grad: Any) -> None:
        self._pre()

    def backward_postprocess(self, function: Any, in_data: Any, out_grad: Any) -> None:
        self._post(function, "backward")
