"""Finn et al.'s predictor unrolled over time as a layer graph (taps per layer per time step).

Names follow the TF code's scopes inside prediction_train.py's `model` variable scope: the
variables are `model/scale1_conv1/weights`, `model/state1/Gates/biases`, ...; the tap of
layer `state1` at step t is `model/state1_{t}` (the ConvLSTM's state, concat(c, h)), and
`model/state1_{t}/h` its hidden state. A layer's variables belong to its step-0 layer; later
steps read them by scope (`attrs["scope"]`), as TF's reused scopes do.

Step t (t = 0 .. seq_len - 2) predicts frame t + 1 from `prev_image_t` (frame t while
t < context_frames, then scheduled sampling between frame t and the previous prediction) and
`state_action_t` (action t, and the state: state 0, then the previous `state_pred`):

  scale1_conv1 (5x5/2, no bias, no relu) -> layer_norm1 + relu = enc0 -> state1 -> layer_norm2
  -> state2 -> layer_norm3 -> conv2 (3x3/2, relu) = enc1 -> state3 -> layer_norm4 -> state4
  -> layer_norm5 -> conv3 (3x3/2, relu) = enc2; [enc2, smear(state_action)] -> conv4 (1x1,
  relu) -> state5 -> layer_norm6 = hidden5 -> convt1 (3x3/2, relu) -> state6 -> layer_norm7;
  [hidden6, enc1] -> convt2 (3x3/2, relu) -> state7 -> layer_norm8; [hidden7, enc0] -> convt3
  (3x3/2, no bias, no relu) -> layer_norm9 (+ relu*) = enc6 -> convt4 (1x1, relu*): the
  generated image (sigmoid) or DNA's kernels; CDNA: cdna_params(hidden5) kernels applied to
  prev_image; STP: fc_stp(hidden5) -> stp_params{i} -> spatial transformers; convt7(enc6)
  (1x1, relu*) -> the masks' softmax -> output_t = mask_0 * prev_image
  + sum_i transformed_i * mask_{i+1}. state_pred_t = state_pred(state_action_t).
  relu*: the older prediction_model.py's only (the preset's `code_version`,
  `Preset.slim_relus`).

The loss: mean squared error of output_t and frame t + 1 plus 1e-4 times that of state_pred_t
and state t + 1, for t >= context_frames - 1, summed and divided by seq_len - context_frames;
`psnr_all` the sum of the same frames' PSNRs.
"""

from __future__ import annotations

from spec.finn.presets import Preset
from spec.layer import Layer, Variable
from spec.layout import Transpose

IMAGES, ACTIONS, STATES, ITER_NUM = "images", "actions", "states", "iter_num"
SCHEDULE = "schedule"
SCOPE = "model"
FRAMES = f"{SCOPE}/frames"
LOSS = f"{SCOPE}/loss"
PSNR = f"{SCOPE}/psnr_all"
RELU_SHIFT = 1e-12


def name(scope: str, t: int, suffix: str = "") -> str:
    """The tap of `scope` at step t (`model/state1_3`, `model/state1_3/h`)."""
    return f"{SCOPE}/{scope}_{t}{suffix}"


def output(t: int) -> str:
    return name("output", t)


def state_pred(t: int) -> str:
    return name("state_pred", t)


class _Builder:
    """Appends one time step's layers; variables go to the step-0 layer of each scope."""

    def __init__(self, preset: Preset) -> None:
        self.preset = preset
        self.layers: list[Layer] = []

    def add(self, tap: str, kind: str, inputs: tuple[str, ...], shape: tuple[int, ...],
            t: int, variables: tuple[Variable, ...] = (), **attrs: object) -> str:
        self.layers.append(Layer(tap, kind, inputs, shape, attrs={"t": t, **attrs},
                                 variables=variables if t == 0 else ()))
        return tap

    def conv(self, scope: str, t: int, inputs: tuple[str, ...], cin: int, cout: int,
             size: int, kernel: int, stride: int, deconv: bool = False,
             normalized: bool = False, relu: bool = True) -> str:
        """slim.conv2d / conv2d_transpose (SAME) on the channel concat of `inputs`. With a
        normalizer_fn (`normalized`) slim drops the bias and applies the activation after the
        normaliser only: relu(LN(conv)), never relu(LN(relu(conv)))."""
        shape = (kernel, kernel, cout, cin) if deconv else (kernel, kernel, cin, cout)
        variables = [Variable(f"{SCOPE}/{scope}/weights", shape, Transpose.KERNEL,
                              "xavier_uniform")]
        if not normalized:
            variables.append(Variable(f"{SCOPE}/{scope}/biases", (cout,), init="zeros"))
        return self.add(name(scope, t), "conv2d_transpose" if deconv else "conv2d", inputs,
                        (size, size, cout), t, tuple(variables), scope=f"{SCOPE}/{scope}",
                        kernel=kernel, stride=stride, bias=not normalized,
                        relu=relu and not normalized)

    def layer_norm(self, scope: str, t: int, x: str, size: int, width: int,
                   relu: bool = False) -> str:
        """tf.contrib.layers.layer_norm: over every axis but the batch, beta and gamma per
        channel (eps 1e-12); followed by slim's relu when it is a conv's normalizer."""
        variables = (Variable(f"{SCOPE}/{scope}/beta", (width,), init="zeros"),
                     Variable(f"{SCOPE}/{scope}/gamma", (width,), init="ones"))
        return self.add(name(scope, t), "layer_norm", (x,), (size, size, width), t, variables,
                        scope=f"{SCOPE}/{scope}", relu=relu)

    def lstm(self, cell: int, t: int, x: str, cin: int, size: int) -> str:
        """basic_conv_lstm_cell (scope `state{cell}`); returns the hidden state's tap."""
        p, scope = self.preset, f"state{cell}"
        width, kernel = p.lstm_sizes[cell - 1], p.lstm_kernel
        variables = (Variable(f"{SCOPE}/{scope}/Gates/weights",
                              (kernel, kernel, cin + width, 4 * width), Transpose.KERNEL,
                              "xavier_uniform"),
                     Variable(f"{SCOPE}/{scope}/Gates/biases", (4 * width,), init="zeros"))
        state = name(scope, t - 1) if t else None
        tap = self.add(name(scope, t), "basic_conv_lstm", (x, state) if state else (x,),
                       (size, size, 2 * width), t, variables,
                       kernel=f"{SCOPE}/{scope}/Gates/weights",
                       bias=f"{SCOPE}/{scope}/Gates/biases", width=width,
                       forget_bias=p.forget_bias)
        return self.add(name(scope, t, "/h"), "hidden", (tap,), (size, size, width), t,
                        width=width)

    def fc(self, scope: str, t: int, x: str, cin: int, cout: int, relu: bool,
           flatten: bool) -> str:
        """slim.fully_connected (relu unless activation_fn=None) of x, flattened in TF's
        NHWC order when it is a map."""
        variables = (Variable(f"{SCOPE}/{scope}/weights", (cin, cout), Transpose.MATRIX,
                              "xavier_uniform"),
                     Variable(f"{SCOPE}/{scope}/biases", (cout,), init="zeros"))
        return self.add(name(scope, t), "fc", (x,), (cout,), t, variables,
                        scope=f"{SCOPE}/{scope}", relu=relu, flatten=flatten)


def _step(b: _Builder, t: int) -> None:
    p = b.preset
    s, c, sizes, k = p.image_size, p.channels, p.lstm_sizes, p.dna_kernel
    if t < p.context_frames:
        prev = b.add(name("prev_image", t), "prev_image", (FRAMES,), (s, s, c), t)
    else:
        prev = b.add(name("prev_image", t), "prev_image",
                     (FRAMES, output(t - 1), ITER_NUM, SCHEDULE), (s, s, c), t,
                     sampled=t - p.context_frames, k=p.schedsamp_k)
    vector = p.state_dim + p.action_dim
    state_action = b.add(name("state_action", t), "state_action",
                         (ACTIONS, state_pred(t - 1) if t else STATES), (vector,), t)

    conv1 = b.conv("scale1_conv1", t, (prev,), c, 32, s // 2, 5, 2, normalized=True)
    enc0 = b.layer_norm("scale1_conv1/layer_norm1", t, conv1, s // 2, 32, relu=True)
    hidden1 = b.layer_norm("layer_norm2", t, b.lstm(1, t, enc0, 32, s // 2), s // 2, sizes[0])
    hidden2 = b.layer_norm("layer_norm3", t, b.lstm(2, t, hidden1, sizes[0], s // 2), s // 2,
                           sizes[1])
    enc1 = b.conv("conv2", t, (hidden2,), sizes[1], sizes[1], s // 4, 3, 2)
    hidden3 = b.layer_norm("layer_norm4", t, b.lstm(3, t, enc1, sizes[1], s // 4), s // 4,
                           sizes[2])
    hidden4 = b.layer_norm("layer_norm5", t, b.lstm(4, t, hidden3, sizes[2], s // 4), s // 4,
                           sizes[3])
    enc2 = b.conv("conv3", t, (hidden4,), sizes[3], sizes[3], s // 8, 3, 2)
    if p.use_state:
        smear = b.add(name("smear", t), "smear", (state_action,), (s // 8, s // 8, vector), t)
        enc3 = b.conv("conv4", t, (enc2, smear), sizes[3] + vector, sizes[3], s // 8, 1, 1)
    else:
        enc3 = b.conv("conv4", t, (enc2,), sizes[3], sizes[3], s // 8, 1, 1)
    hidden5 = b.layer_norm("layer_norm6", t, b.lstm(5, t, enc3, sizes[3], s // 8), s // 8,
                           sizes[4])
    enc4 = b.conv("convt1", t, (hidden5,), sizes[4], sizes[4], s // 4, 3, 2, deconv=True)
    hidden6 = b.layer_norm("layer_norm7", t, b.lstm(6, t, enc4, sizes[4], s // 4), s // 4,
                           sizes[5])
    skip6 = sizes[5] + sizes[1]
    enc5 = b.conv("convt2", t, (hidden6, enc1), skip6, skip6, s // 2, 3, 2, deconv=True)
    hidden7 = b.layer_norm("layer_norm8", t, b.lstm(7, t, enc5, skip6, s // 2), s // 2,
                           sizes[6])
    skip7 = sizes[6] + 32
    convt3 = b.conv("convt3", t, (hidden7, enc0), skip7, skip7, s, 3, 2, deconv=True,
                    normalized=True)
    enc6 = b.layer_norm("convt3/layer_norm9", t, convt3, s, skip7, relu=p.slim_relus)
    enc7 = b.conv("convt4", t, (enc6,), skip7, k * k if p.transform == "dna" else c, s, 1, 1,
                  deconv=True, relu=p.slim_relus)

    flat5 = (s // 8) ** 2 * sizes[4]
    if p.transform == "dna":
        transformed: tuple[str, ...] = (
            b.add(name("dna", t), "dna", (prev, enc7), (s, s, c), t, kernel=k,
                  relu_shift=RELU_SHIFT),)
    else:
        generated = b.add(name("convt4", t, "/sigmoid"), "sigmoid", (enc7,), (s, s, c), t)
        if p.transform == "cdna":
            params = b.fc("cdna_params", t, hidden5, flat5, k * k * p.num_masks, relu=False,
                          flatten=True)
            kernels = b.add(name("cdna_kernels", t), "cdna_kernels", (params,),
                            (k, k, p.num_masks), t, kernel=k, masks=p.num_masks,
                            relu_shift=RELU_SHIFT)
            moved = b.add(name("cdna", t), "cdna", (prev, kernels), (p.num_masks, s, s, c), t)
        else:
            hidden = b.fc("fc_stp", t, hidden5, flat5, p.stp_hidden, relu=True, flatten=True)
            stp_variables = tuple(v for i in range(p.num_masks - 1) for v in (
                Variable(f"{SCOPE}/stp_params{i}/weights", (p.stp_hidden, 6), Transpose.MATRIX,
                         "xavier_uniform"),
                Variable(f"{SCOPE}/stp_params{i}/biases", (6,), init="zeros")))
            params = b.add(name("stp_params", t), "stp_params", (hidden,),
                           (p.num_masks - 1, 6), t, stp_variables, count=p.num_masks - 1)
            moved = b.add(name("stp", t), "stp", (prev, params), (p.num_masks - 1, s, s, c), t)
        transformed = (generated, moved)
    logits = b.conv("convt7", t, (enc6,), skip7, p.num_masks + 1, s, 1, 1, deconv=True,
                    relu=p.slim_relus)
    masks = b.add(name("masks", t), "masks", (logits,), (s, s, p.num_masks + 1), t)
    b.add(output(t), "composite", (prev, masks, *transformed), (s, s, c), t)
    b.fc("state_pred", t, state_action, vector, p.state_dim, relu=False, flatten=False)


def build_spec(preset: Preset) -> list[Layer]:
    b = _Builder(preset)
    p = preset
    b.layers.append(Layer(FRAMES, "frames", (IMAGES,),
                          (p.seq_len, p.image_size, p.image_size, p.channels),
                          attrs={"pool": p.pool, "seq_len": p.seq_len}))
    for t in range(p.steps):
        _step(b, t)
    predicted = range(p.context_frames - 1, p.steps)
    outputs = tuple(output(t) for t in predicted)
    b.layers.append(Layer(LOSS, "loss", (FRAMES, STATES, *outputs,
                                         *(state_pred(t) for t in predicted)), (), batch=None,
                          attrs={"first": p.context_frames, "state_cost": p.state_cost}))
    b.layers.append(Layer(PSNR, "psnr", (FRAMES, *outputs), (), batch=None,
                          attrs={"first": p.context_frames}))
    return b.layers
