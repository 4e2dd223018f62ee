"""Model sizes and the choices the seed's variable dump leaves open (docs/models/convlstm.md).

`seed` is the dump's graph exactly (92 variables, 8,386,576 parameters); `tiny` keeps every
layer kind, small.
"""

from __future__ import annotations

from dataclasses import dataclass

from common.errors import UserError

FORECASTER_INPUTS = ("encoder_outputs", "zeros")
OUTPUTS = ("linear", "sigmoid")


@dataclass(frozen=True)
class Preset:
    """The numbers and choices that fix one encoder-forecaster.

    data_size: the frames read are data_size x data_size x 1 (Moving MNIST: 64), mean-pooled
        to frame_size x frame_size in the graph when smaller (the tiny preset).
    frame_size / patch: frames of frame_size x frame_size x 1 become a grid of
        (frame_size / patch)^2 cells of patch^2 channels (TF's space_to_depth).
    channels: the three cells' widths, encoder and forecaster alike (the forecaster's cell k
        starts from the encoder's cell k).
    kernel: every gate conv's size (SAME, stride 1).
    input_frames / output_frames: frames read, frames predicted.
    forecaster_input: what the forecaster's top cell (fore_cl3) reads at step k: the encoder's
        top hidden state at step k ("encoder_outputs": one predicted frame per input frame,
        the seed's README) or nothing ("zeros": Shi et al.'s forecaster).
    forget_bias: added to the forget gate's pre-activation (0: the dump has a forget bias
        variable already; 1.0: TF's LSTM cells' habit).
    output: the activation of the predicted frame ("linear" on pixel_scale data; "sigmoid").
    pixel_scale: frames (in [0, 1] from the loader) are multiplied by it (255: the log's loss
        of ~4e7 per 10 frames of 64x64 is a sum of squared errors on [0, 255]).
    """

    name: str
    data_size: int = 64
    frame_size: int = 64
    patch: int = 4
    channels: tuple[int, int, int] = (128, 64, 64)
    kernel: int = 5
    input_frames: int = 10
    output_frames: int = 10
    forecaster_input: str = "encoder_outputs"
    forget_bias: float = 0.0
    output: str = "linear"
    pixel_scale: float = 255.0

    def __post_init__(self) -> None:
        for field, value, known in (("forecaster_input", self.forecaster_input,
                                     FORECASTER_INPUTS), ("output", self.output, OUTPUTS)):
            if value not in known:
                raise UserError(f"preset {self.name}: {field} {value!r} (known: "
                                f"{', '.join(known)})")

    @property
    def pool(self) -> int:
        return self.data_size // self.frame_size

    @property
    def grid(self) -> int:
        return self.frame_size // self.patch

    @property
    def patch_channels(self) -> int:
        return self.patch * self.patch

    @property
    def seq_len(self) -> int:
        return self.input_frames + self.output_frames


PRESETS = {
    "seed": Preset("seed"),
    "tiny": Preset("tiny", frame_size=16, patch=4, channels=(6, 4, 4), kernel=3,
                   input_frames=3, output_frames=3),
}
