"""google/e3d_lstm's network (`eidetic_3d_lstm_net.rnn` with `Eidetic3DLSTMCell`) unrolled over
time as a layer graph, a tap per part of every cell at every step.

Names follow the code's scopes: the variables are `generator/e3d-lstm/e3d{i}/conv3d/kernel`,
`.../e3d{i}/hidden/gamma`, ... (tf.layers numbers its unnamed convs `conv3d`, `conv3d_1`, ... in
call order, restarting in each scope) and `generator/e3d-lstm/conv3d/...` for `x_gen`. The tap
of cell i at step t is `generator/e3d-lstm/e3d{i}_{t}` (its output, the new hidden state) with
its parts below it: `/hidden`, `/inputs`, `/global_memory` (each gate conv after its norm),
`/recall` (the eidetic attention), `/cell` and `/memory` (the new cell and global memory).
A cell's variables belong to its step-0 layers; later steps read them by scope.

Step t (0 .. total_length - 2): `input_{t}` is frame t (the true one while t < input_length,
then the scheduled-sampling mix of the true frame and `x_gen_{t-1}`); `window_{t}` stacks the
code's `input_list[t:t + 2]`, the list that starts with one zero frame: (frame t - 1, frame t)
[2, W, H, C]; each cell reads the window (or the cell below's output), its own hidden and
cell state, the global memory and every cell state it had (`c_history`, led by the zero state);
`x_gen_{t}` predicts frame t + 1 from the top cell's output. Activations of a 3-D conv are
NDHWC in TF and NCDHW in Chainer (`Activation.CHANNELS_FIRST`).
"""

from __future__ import annotations

from spec.e3d_lstm.presets import Preset
from spec.layer import Layer, Variable
from spec.layout import Activation, Transpose

FRAMES = "frames"
ETA = "eta"
COINS = "sampling_coins"
IMAGES = "images"
SCOPE = "generator/e3d-lstm"
LOSS = "loss"
LOSS_TRAIN = "loss_train"
GATES = {"hidden": 4, "inputs": 7, "global_memory": 4}
# The gate convs in the code's call order: tf.layers' automatic names, the norm scope of each.
CONVS = {"hidden": "conv3d", "inputs": "conv3d_1", "global_memory": "conv3d_2"}
OUTPUT_CONVS = ("conv3d_3", "conv3d_4", "conv3d_5")  # o_c, o_m, the 1x1x1 memory conv
VOLUME = Activation.CHANNELS_FIRST


def cell(i: int) -> str:
    return f"{SCOPE}/e3d{i}"


def tap(i: int, t: int, part: str = "") -> str:
    return f"{cell(i)}_{t}" + (f"/{part}" if part else "")


def input_frame(t: int) -> str:
    return f"{SCOPE}/input_{t}"


def window(t: int) -> str:
    return f"{SCOPE}/window_{t}"


def x_gen(t: int) -> str:
    return f"{SCOPE}/x_gen_{t}"


def conv(scope: str, kernel: tuple[int, ...], cin: int, cout: int) -> tuple[Variable, ...]:
    """A tf.layers.conv3d's kernel (glorot uniform) and bias (zeros)."""
    return (Variable(f"{scope}/kernel", (*kernel, cin, cout), Transpose.KERNEL,
                     "glorot_uniform"),
            Variable(f"{scope}/bias", (cout,), init="zeros"))


def norm(scope: str, width: int) -> tuple[Variable, ...]:
    """`EideticLSTMCell._norm`'s gamma (norm_gain 1.0) and beta (norm_shift 0.0)."""
    return (Variable(f"{scope}/gamma", (width,), init="ones"),
            Variable(f"{scope}/beta", (width,), init="zeros"))


def build_spec(preset: Preset) -> list[Layer]:
    p, layers = preset, []
    grid, width = p.grid, p.num_hidden[-1]
    volume = (p.window, grid, grid)

    def add(name: str, kind: str, inputs: tuple[str, ...], channels: int,
            variables: tuple[Variable, ...] = (), **attrs: object) -> str:
        shape = (*volume, channels)
        layers.append(Layer(name, kind, inputs, shape, attrs=attrs, variables=variables,
                            layout=VOLUME))
        return name

    layers.append(Layer(IMAGES, "reshape_patch", (FRAMES,),
                        (p.total_length, grid, grid, p.patch_channels),
                        attrs={"patch": p.patch}))
    memory: str | None = None
    for t in range(p.steps):
        if t < p.input_length:
            sources: tuple[str, ...] = (IMAGES,)
        else:
            sources = (IMAGES, COINS, ETA, x_gen(t - 1))
        layers.append(Layer(input_frame(t), "sampled_frame", sources,
                            (grid, grid, p.patch_channels),
                            attrs={"t": t, "coin": t - p.input_length}))
        below = add(window(t), "window", tuple(input_frame(k) for k in range(t + 1)),
                    p.patch_channels, t=t)
        for i, hidden in enumerate(p.num_hidden):
            first, scope = t == 0, cell(i)

            def gate(part: str, source: str | None, cin: int, i: int = i, t: int = t,
                     scope: str = scope, hidden: int = hidden, first: bool = first) -> str:
                """A gate conv and its norm. Without a state to read (step 0, or the code's
                global memory, never passed on) it convolves zeros shaped like its input,
                which is there for the batch size (`zero_input`; `carried`: a state is
                wired in all the same)."""
                name, width = f"{scope}/{CONVS[part]}", GATES[part] * hidden
                variables = conv(name, p.kernel, cin, width) + (
                    norm(f"{scope}/{part}", width) if p.layer_norm else ())
                passed = part != "global_memory" or p.global_memory == "new"
                return add(tap(i, t, part), "gate_conv", (source or window(t),), width,
                           variables if first else (), conv=name,
                           norm=f"{scope}/{part}" if p.layer_norm else None,
                           carried=source is not None, zero_input=source is None or not passed,
                           state_width=cin)

            h = gate("hidden", None if first else tap(i, t - 1), hidden)
            x = gate("inputs", below, p.patch_channels if i == 0 else p.num_hidden[i - 1])
            history = tuple(tap(i, k, "cell") for k in range(t))
            recall = add(tap(i, t, "recall"), "recall", (x, h, *history), hidden)
            c = add(tap(i, t, "cell"), "eidetic_cell",
                    (x, h, recall) + (() if first else (tap(i, t - 1, "cell"),)), hidden,
                    norm(f"{scope}/self_attn", hidden) if first else (), scope=scope)
            m = gate("global_memory", memory, width)
            memory = add(tap(i, t, "memory"), "global_memory", (x, m), hidden,
                         forget_bias=p.forget_bias)
            o_c, o_m, mixed = (f"{scope}/{name}" for name in OUTPUT_CONVS)
            variables = (conv(o_c, p.kernel, hidden, hidden) + conv(o_m, p.kernel, hidden, hidden)
                         + conv(mixed, (1, 1, 1), 2 * hidden, hidden))
            below = add(tap(i, t), "eidetic_output", (x, h, c, memory), hidden,
                        variables if first else (), scope=scope, output_gate=p.output_gate)
        layers.append(Layer(x_gen(t), "x_gen", (below,), (grid, grid, p.patch_channels),
                            attrs={"scope": f"{SCOPE}/conv3d", "window": p.window},
                            variables=conv(f"{SCOPE}/conv3d", (p.window, 1, 1), width,
                                           p.patch_channels) if t == 0 else ()))
    layers.append(Layer(LOSS, "e3d_loss", (IMAGES, *(x_gen(t) for t in range(p.steps))), (),
                        batch=None))
    layers.append(Layer(LOSS_TRAIN, "per_sample", (LOSS, IMAGES), (), batch=None))
    return layers
