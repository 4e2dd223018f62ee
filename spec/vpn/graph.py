"""o-tawab/Video-Pixel-Networks' model (`model.py`, `layers.py`) unrolled over the truncated
steps as a layer graph, a tap per block.

Variables as the code's templates name them: `vpn_encoder/resolution_preserving_cnn_encoders/
input_conv`, `.../residual_multiplicative_block_without_mask_{i}/{h1, multiplicative_unit_
without_mask_{1,2}/{g1,g2,g3,u}, h4}/{kernel,bias}`, `vpn_encoder/Conv_LSTM/{Matrix,Bias}`,
`vpn_decoder/pixel_cnn_decoders/residual_multiplicative_block_without_mask_00/...` and
`.../residual_multiplicative_block_with_mask_{k}/{h1, multiplicative_unit_with_mask_{1,2}/
{g1,g2,g3,u}/{weights,biases}, h4}`. `tf.make_template` shares one set across every step: a
block's variables belong to its first tap, later steps read them by scope.

Warm-up (trainer.py's first `sess.run`): the encoder and the ConvLSTM over frames 0 .. T - 1
from zero states; `warmup/lstm_{T-1}/state` is its last state, a constant for the training
pass (a separate run in the code: no gradient flows back into it). Training step t (0 .. T - 1):
`encoder_{t}/...` reads frame T + t, `lstm_{t}` carries the state on, `decoder_{t}/...`
reads the LSTM's output and the current frame T + t + 1 (the PixelCNN's input), and
`decoder_{t}/logits` are its 256 intensity logits per pixel. `loss`: softmax cross-entropy
with the frames' integer values, the mean over every pixel of every step.
"""

from __future__ import annotations

from spec.layer import Layer, Variable
from spec.layout import Transpose
from spec.vpn.presets import Preset

FRAMES = "frames"
ENCODER = "vpn_encoder/resolution_preserving_cnn_encoders"
LSTM = "vpn_encoder/Conv_LSTM"
DECODER = "vpn_decoder/pixel_cnn_decoders"
LOSS = "loss"
CLASSES = 256
UNIT_GATES = ("g1", "g2", "g3", "u")


def warmup_state(steps: int) -> str:
    """The warm-up's last LSTM state as the training pass takes it (a constant)."""
    return f"warmup/lstm_{steps - 1}/state"


def conv(scope: str, k: int, cin: int, cout: int, masked: bool = False) -> tuple[Variable, ...]:
    """tf.layers.conv2d's kernel and bias, or masked_conv2d's weights and biases (xavier,
    zeros)."""
    names = ("weights", "biases") if masked else ("kernel", "bias")
    return (Variable(f"{scope}/{names[0]}", (k, k, cin, cout), Transpose.KERNEL,
                     "xavier_uniform"),
            Variable(f"{scope}/{names[1]}", (cout,), init="zeros"))


def rmb_variables(scope: str, cin: int, c: int, cout: int, masked: bool) -> tuple[Variable, ...]:
    """An RMB's variables in the code's creation order: h1, both units' g1, g2, g3, u, h4."""
    unit = "multiplicative_unit_with_mask" if masked else "multiplicative_unit_without_mask"
    found = conv(f"{scope}/h1", 1, cin, c)
    for number in (1, 2):
        for gate in UNIT_GATES:
            found += conv(f"{scope}/{unit}_{number}/{gate}", 3, c, c, masked)
    return found + conv(f"{scope}/h4", 1, c, cout)


def build_spec(preset: Preset) -> list[Layer]:
    p, layers = preset, []
    size, c, width, steps = p.image_width, p.rmb_c, p.conv_lstm_filters, p.truncated_steps

    def add(name: str, kind: str, inputs: tuple[str, ...], channels: int,
            variables: tuple[Variable, ...] = (), **attrs: object) -> str:
        layers.append(Layer(name, kind, inputs, (size, size, channels), attrs=attrs,
                            variables=variables))
        return name

    def encode(prefix: str, t: int, frame: int, state: str | None, first: bool) -> str:
        scope = f"{ENCODER}/input_conv"
        x = add(f"{prefix}encoder_{t}/input_conv", "input_conv", (FRAMES,), 2 * c,
                conv(scope, 1, 1, 2 * c) if first else (), scope=scope, frame=frame)
        for i in range(p.encoder_rmb_num):
            scope = f"{ENCODER}/residual_multiplicative_block_without_mask_{i}"
            x = add(f"{prefix}encoder_{t}/rmb_{i}", "rmb", (x,), 2 * c,
                    rmb_variables(scope, 2 * c, c, 2 * c, False) if first else (), scope=scope,
                    dilation=p.dilation(i))
        lstm = (Variable(f"{LSTM}/Matrix", (3, 3, 2 * c + width, 4 * width), Transpose.KERNEL,
                         "xavier_uniform"), Variable(f"{LSTM}/Bias", (4 * width,), init="zeros"))
        return add(f"{prefix}lstm_{t}", "basic_conv_lstm", (x, state) if state else (x,),
                   2 * width, lstm if first else (), kernel=f"{LSTM}/Matrix",
                   bias=f"{LSTM}/Bias", width=width, forget_bias=1.0)

    state = None
    for k in range(steps):
        state = encode("warmup/", k, k, state, k == 0)
    state = add(warmup_state(steps), "stop_gradient", (state,), 2 * width)
    logits = []
    for t in range(steps):
        state = encode("", t, steps + t, state, False)
        h = add(f"lstm_{t}/h", "hidden", (state,), width, width=width)
        scope = f"{DECODER}/residual_multiplicative_block_without_mask_00"
        h = add(f"decoder_{t}/rmb_00", "rmb", (h,), 2 * c,
                rmb_variables(scope, width, c, 2 * c, False) if t == 0 else (), scope=scope,
                dilation=1)
        last = p.decoder_rmb_num - 1
        for k in range(1, last + 1):
            scope = f"{DECODER}/residual_multiplicative_block_with_mask_{k}"
            first, final = k == 1, k == last
            cout = CLASSES if final else 2 * c
            variables = rmb_variables(scope, 2 * c, c, cout, True)
            if first:  # h1 makes c - 1 channels beside the frame's one
                variables = conv(f"{scope}/h1", 1, 2 * c, c - 1) + variables[2:]
            name = f"decoder_{t}/logits" if final else f"decoder_{t}/rmb_{k}"
            h = add(name, "masked_rmb", (h, FRAMES) if first else (h,), cout,
                    variables if t == 0 else (), scope=scope, first=first, last=final,
                    frame=steps + t + 1, first_mask=p.first_mask, mask_a_gate=p.mask_a_gate)
        logits.append(h)
    layers.append(Layer(LOSS, "pixel_cross_entropy", (FRAMES, *logits), (), batch=None,
                        attrs={"first": steps + 1}))
    return layers
