"""The encoder-forecaster unrolled over time as a layer graph (taps per cell per time step).

Names follow the dump's scopes: the variables are `CL/{cell}/...`; the tap of cell `enco_cl1`
at step t is `CL/enco_cl1_{t}` (its state, concat(c, h) on the channel axis, as TF1's reused
scopes number their calls) and `CL/enco_cl1_{t}/h` its hidden state. A cell's variables belong
to its step-0 layer; later steps read them by the cell's scope (`attrs["cell"]`).

Encoder: patches_t (frame t mean-pooled by `pool`, times pixel_scale, space_to_depth) ->
enco_cl1 -> enco_cl2 -> enco_cl3 for t < input_frames, from zero states.
Forecaster, step k: fore_cl3 (from enco_cl3's last state) reads the encoder's top hidden state
at step k (or nothing), fore_cl2 (from enco_cl2's) reads fore_cl3's, fore_cl1 (from enco_cl1's)
reads fore_cl2's: the kernel shapes (fore_cl2 and fore_cl1 read 64 channels) stack it in
reverse. concat(fore_cl1, fore_cl2, fore_cl3 hidden) -> finl_predict (1x1) -> depth_to_space
-> the predicted frame input_frames + k. The loss: squared error summed over the predicted
frames' pixels, averaged over the batch.
"""

from __future__ import annotations

from spec.convlstm.presets import Preset
from spec.layer import Layer, Variable
from spec.layout import Transpose

FRAMES = "frames"
SCOPE = "CL"
GATES = ("input", "forget", "cell", "output")
PEEPHOLES = ("inputc", "forgetc", "outputc")
ENCODER = ("enco_cl1", "enco_cl2", "enco_cl3")
FORECASTER = ("fore_cl1", "fore_cl2", "fore_cl3")
PREDICT = f"{SCOPE}/finl_predict"
PATCHES = f"{SCOPE}/patches"
PREDICTION = f"{SCOPE}/prediction"
LOSS = f"{SCOPE}/loss"


def cell_variables(cell: str, cin: int, width: int, preset: Preset) -> tuple[Variable, ...]:
    """The dump's variables of one cell, in its order: the peepholes, then per gate the input
    kernel, the hidden kernel and its bias."""
    scope, k, grid = f"{SCOPE}/{cell}", preset.kernel, preset.grid
    peepholes = tuple(Variable(f"{scope}/{name}", (1, grid, grid, width),
                               Transpose.ACTIVATION, "zeros") for name in PEEPHOLES)
    gates = tuple(variable for gate in GATES for variable in (
        Variable(f"{scope}/{gate}x2state/kernel", (k, k, cin, width), Transpose.KERNEL,
                 "xavier_uniform"),
        Variable(f"{scope}/{gate}h2state/kernel", (k, k, width, width), Transpose.KERNEL,
                 "xavier_uniform"),
        Variable(f"{scope}/{gate}h2state/bias", (width,), init="zeros")))
    return peepholes + gates


def tap(cell: str, t: int) -> str:
    return f"{SCOPE}/{cell}_{t}"


def hidden(cell: str, t: int) -> str:
    return f"{tap(cell, t)}/h"


def build_spec(preset: Preset) -> list[Layer]:
    grid, layers = preset.grid, []
    inputs = {cell: cin for cell, cin in zip(
        ENCODER + FORECASTER,
        (preset.patch_channels, preset.channels[0], preset.channels[1],
         preset.channels[1], preset.channels[2], preset.channels[2]), strict=True)}
    widths = dict(zip(ENCODER + FORECASTER, preset.channels * 2, strict=True))

    def cell_step(cell: str, t: int, x: str | None, state: str | None) -> str:
        width = widths[cell]
        layers.append(Layer(
            tap(cell, t), "convlstm", tuple(n for n in (x, state) if n), (grid, grid, 2 * width),
            attrs={"cell": f"{SCOPE}/{cell}", "width": width, "has_x": x is not None,
                   "has_state": state is not None, "forget_bias": preset.forget_bias},
            variables=cell_variables(cell, inputs[cell], width, preset) if t == 0 else ()))
        layers.append(Layer(hidden(cell, t), "hidden", (tap(cell, t),), (grid, grid, width),
                            attrs={"width": width}))
        return hidden(cell, t)

    last = preset.input_frames - 1
    for t in range(preset.input_frames):
        patches = f"{PATCHES}_{t}"
        layers.append(Layer(patches, "patches", (FRAMES,), (grid, grid, preset.patch_channels),
                            attrs={"t": t, "pool": preset.pool, "patch": preset.patch,
                                   "scale": preset.pixel_scale}))
        x = patches
        for cell in ENCODER:
            x = cell_step(cell, t, x, tap(cell, t - 1) if t else None)
    predictions = []
    for k in range(preset.output_frames):
        x = hidden(ENCODER[-1], k) if preset.forecaster_input == "encoder_outputs" else None
        for fore, enco in zip(reversed(FORECASTER), reversed(ENCODER), strict=True):
            x = cell_step(fore, k, x, tap(fore, k - 1) if k else tap(enco, last))
        concat = f"{SCOPE}/fore_concat_{k}"
        layers.append(Layer(concat, "concat", tuple(hidden(c, k) for c in FORECASTER),
                            (grid, grid, sum(preset.channels))))
        logits = f"{PREDICT}_{k}"
        layers.append(Layer(
            logits, "conv1x1", (concat,), (grid, grid, preset.patch_channels),
            attrs={"scope": PREDICT},
            variables=(Variable(f"{PREDICT}/kernel", (1, 1, sum(preset.channels),
                                                      preset.patch_channels),
                                Transpose.KERNEL, "xavier_uniform"),
                       Variable(f"{PREDICT}/bias", (preset.patch_channels,), init="zeros"))
            if k == 0 else ()))
        prediction = f"{PREDICTION}_{k}"
        layers.append(Layer(prediction, "frame", (logits,),
                            (preset.frame_size, preset.frame_size, 1),
                            attrs={"patch": preset.patch, "output": preset.output}))
        predictions.append(prediction)
    layers.append(Layer(LOSS, "sse_loss", (FRAMES, *predictions), (), batch=None,
                        attrs={"first": preset.input_frames, "pool": preset.pool,
                               "scale": preset.pixel_scale}))
    return layers
