"""The sizes of google/e3d_lstm's two training scripts and a tiny one, and the code's quirks
as preset fields: the code's behaviour by default, the paper's as the alternative
(docs/models/e3d_lstm.md).

`paper` is `scripts/e3d_lstm_mm_train.sh` (Moving MNIST 64x64, patch 4, 4 layers of 64, 10 + 10
frames, batch 4); `kth` is `scripts/e3d_lstm_kth_train.sh` (KTH 128x128, patch 8, 10 + 20
frames, batch 2); `tiny` keeps every layer kind, 2 layers, a short sequence, and
a schedule that mixes true and generated frames from its first step (the scripts' eta starts
at 1: all true frames).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from common.errors import UserError
from spec.pair import WORKER_GRADIENTS

GLOBAL_MEMORIES = ("old", "new")
OUTPUT_GATES = ("tanh_sigmoid", "sigmoid")


@dataclass(frozen=True)
class Preset:
    """The flags of run.py that fix one E3D-LSTM, and the code's quirks.

    data_width: the frames read are data_width^2 (Moving MNIST: 64), mean-pooled by the
        reader to image_width^2 when smaller (the tiny preset).
    image_width / img_channel / patch: frames of image_width^2 x img_channel become a grid of
        (image_width / patch)^2 cells of patch^2 * img_channel channels (`reshape_patch`).
    num_hidden: the stacked cells' widths (the global memory is as wide as the last: every
        width must be equal for it to pass between layers, as the code's zero state assumes).
    kernel: every gate conv's kernel [depth, height, width] (the code's [2, 5, 5]; its
        `filter_size` flag is read by nothing).
    window: frames per window (the code's `window_length` 2, stride 1).
    input_length / total_length: frames read, frames in a sequence; the net predicts frames
        1 .. total_length - 1 and the loss covers all of them.
    layer_norm: the three gate convs normalised (`--layer_norm`); the `self_attn` norm is
        applied either way, as the code does. The code fails without it (its 7-way split is
        inside the `if`); False here splits anyway, as the paper means.
    forget_bias: added to the temporal forget gate (the cell's default 1.0).
    global_memory: what a cell passes on: "old" (the code: it returns the memory it was
        given, so the global memory stays zeros) or "new" (the paper: the updated one flows
        layer to layer and step to step).
    output_gate: "tanh_sigmoid" (the code: sigmoid(tanh(o_x + o_h + o_c + o_m))) or
        "sigmoid" (the paper: sigmoid(...) alone).
    sampling_start / sampling_rate / sampling_stop: scheduled sampling's eta, start_value -
        changing_rate * iteration until stop_iter, then 0 (run.py's schedule_sampling).
    lr / batch_size: the script's.
    worker_gradients: how a data-parallel run (`twinport train --workers N`) joins the workers'
        gradients: "sum" (the code's `n_gpu` towers: each GPU's gradient of its summed loss,
        added on GPU 0; with this summed loss that is the one-process gradient of the global
        batch) or "mean" (the usual data parallelism's average: 1/N of it). Its reported
        loss is averaged over the workers either way, as the code's `loss_train / n_gpu`.
    """

    name: str
    data_width: int = 64
    image_width: int = 64
    img_channel: int = 1
    patch: int = 4
    num_hidden: tuple[int, ...] = (64, 64, 64, 64)
    kernel: tuple[int, int, int] = (2, 5, 5)
    window: int = 2
    input_length: int = 10
    total_length: int = 20
    layer_norm: bool = True
    forget_bias: float = 1.0
    global_memory: str = "old"
    output_gate: str = "tanh_sigmoid"
    sampling_start: float = 1.0
    sampling_rate: float = 0.00002
    sampling_stop: int = 50000
    lr: float = 0.001
    batch_size: int = 4
    worker_gradients: str = "sum"

    def __post_init__(self) -> None:
        for field, value, known in (("global_memory", self.global_memory, GLOBAL_MEMORIES),
                                    ("output_gate", self.output_gate, OUTPUT_GATES),
                                    ("worker_gradients", self.worker_gradients,
                                     WORKER_GRADIENTS)):
            if value not in known:
                raise UserError(f"preset {self.name}: {field} {value!r} (known: "
                                f"{', '.join(known)})")
        if len(set(self.num_hidden)) != 1:
            raise UserError(f"preset {self.name}: num_hidden {self.num_hidden}: the global "
                            "memory needs every layer as wide")
        if self.image_width % self.patch or self.data_width % self.image_width:
            raise UserError(f"preset {self.name}: image_width {self.image_width} must divide "
                            f"data_width {self.data_width} and be a multiple of patch "
                            f"{self.patch}")

    @property
    def grid(self) -> int:
        return self.image_width // self.patch

    @property
    def patch_channels(self) -> int:
        return self.patch * self.patch * self.img_channel

    @property
    def steps(self) -> int:
        """Time steps of the recurrence: one per frame but the last."""
        return self.total_length - 1

    @property
    def seq_len(self) -> int:
        """Frames a sequence must have (the reader takes the first total_length)."""
        return self.total_length

    @property
    def output_length(self) -> int:
        return self.total_length - self.input_length

    def eta(self, iteration: int) -> float:
        """Scheduled sampling's probability of the true frame at training iteration
        `iteration` (run.py counts from 1 and subtracts before use)."""
        if iteration >= self.sampling_stop:
            return 0.0
        return max(self.sampling_start - self.sampling_rate * iteration, 0.0)


PRESETS = {
    "paper": Preset("paper"),
    "kth": Preset("kth", data_width=128, image_width=128, patch=8, total_length=30,
                  sampling_rate=0.00001, sampling_stop=100000, batch_size=2),
    "tiny": Preset("tiny", image_width=16, patch=4, num_hidden=(4, 4), kernel=(2, 3, 3),
                   input_length=3, total_length=5, sampling_start=0.5, sampling_rate=0.05,
                   sampling_stop=10, batch_size=2),
}
# The paper's frames, patches, kernels, sequence and schedule with 2 layers of 16: the docs'
# training run of both backends on a CPU (docs/models/e3d_lstm.md).
PRESETS["small"] = replace(PRESETS["paper"], name="small", num_hidden=(16, 16))
# tiny with every quirk field on the paper's side (the new global memory passed on, the
# output gate's sigmoid alone).
PRESETS["tiny_as_paper"] = replace(PRESETS["tiny"], name="tiny_as_paper", global_memory="new",
                                   output_gate="sigmoid")
