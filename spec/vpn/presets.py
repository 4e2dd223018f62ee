"""The architectures of o-tawab/Video-Pixel-Networks' `config.py` and a tiny one, and the code's
quirks as preset fields (docs/models/vpn.md).

`full`, `mini` and `micro` are the code's three configs (`micro` is also its earlier `tiny`);
`micro_t2` is `micro` with two truncated steps (the parity setting at 64x64); `tiny` keeps
every layer kind at 16x16, its encoder block dilated by 2 (TF's dilated SAME, which the
code's configs switch off), seconds on a CPU.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from common.errors import UserError

MASKS = ("A", "B")
MASK_A_GATES = ("g2", "g2_h")


@dataclass(frozen=True)
class Preset:
    """The config fields that fix one VPN, and the code's quirks.

    data_width / image_width: frames read (Moving MNIST 64) and the model's size (the reader
        mean-pools and rounds to integers when smaller).
    rmb_c: an RMB's inner width c (its input and output are 2c, the first block's input 1).
    encoder_rmb_num / encoder_dilation: the encoder's blocks and each one's dilation (the
        code's `encoder_rmb_dilation` False: all 1, its scheme [1, 2, 4, 8] unused).
    decoder_rmb_num: the decoder's masked blocks and its first unmasked one counted together
        as the code counts them (`00`, then 1 .. n - 1: n - 1 masked ones, the last giving the
        256 logits).
    conv_lstm_filters: the ConvLSTM's width F (must be 2c: the decoder's `00` block adds its
        input to its 2c output).
    truncated_steps: T; a sequence of 2T + 1 frames: frames 0 .. T warm the LSTM up, the
        training pass reads frames T .. 2T.
    first_mask: the mask of the first masked unit, on concat(current frame, h): "A" (the code
        and the paper: the pixel's own value hidden) or "B" (its centre kept: the target
        leaks).
    mask_a_gate: the mask-A unit's g2 term: "g2" (the code since 4f59fe2, "fixed a bug in the
        multiplicative unit") or "g2_h" (g2 * h, as before it and in every other unit: h is the
        unmasked input, so the pixel's own value leaks into its logits).
    lr / batch_size: RMSProp's rate; vpn.py's batch (the overfitting run forces 1).
    """

    name: str
    data_width: int = 64
    image_width: int = 64
    rmb_c: int = 128
    encoder_rmb_num: int = 8
    encoder_dilation: tuple[int, ...] = ()
    decoder_rmb_num: int = 12
    conv_lstm_filters: int = 256
    truncated_steps: int = 9
    first_mask: str = "A"
    mask_a_gate: str = "g2"
    lr: float = 3e-4
    batch_size: int = 16

    def __post_init__(self) -> None:
        for field, value, known in (("first_mask", self.first_mask, MASKS),
                                    ("mask_a_gate", self.mask_a_gate, MASK_A_GATES)):
            if value not in known:
                raise UserError(f"preset {self.name}: {field} {value!r} (known: "
                                f"{', '.join(known)})")
        if self.conv_lstm_filters != 2 * self.rmb_c:
            raise UserError(f"preset {self.name}: conv_lstm_filters {self.conv_lstm_filters} "
                            f"must be 2 rmb_c ({2 * self.rmb_c}): the decoder's first block "
                            "adds its input to its output")
        if self.encoder_dilation and len(self.encoder_dilation) < self.encoder_rmb_num:
            raise UserError(f"preset {self.name}: encoder_dilation {self.encoder_dilation} "
                            f"has fewer than {self.encoder_rmb_num} entries")
        if self.decoder_rmb_num < 3 or self.data_width % self.image_width:
            raise UserError(f"preset {self.name}: decoder_rmb_num >= 3 and image_width "
                            "dividing data_width")

    def dilation(self, block: int) -> int:
        return self.encoder_dilation[block] if self.encoder_dilation else 1

    @property
    def seq_len(self) -> int:
        """Frames a sequence must have: the warm-up's T + 1 and the training pass's T + 1,
        sharing frame T."""
        return 2 * self.truncated_steps + 1


PRESETS = {
    "full": Preset("full"),
    "mini": Preset("mini", rmb_c=32, encoder_rmb_num=4, decoder_rmb_num=6,
                   conv_lstm_filters=64),
    "micro": Preset("micro", rmb_c=32, encoder_rmb_num=2, decoder_rmb_num=3,
                    conv_lstm_filters=64),
    "tiny": Preset("tiny", image_width=16, rmb_c=4, encoder_rmb_num=1, encoder_dilation=(2,),
                   decoder_rmb_num=3, conv_lstm_filters=8, truncated_steps=2, batch_size=2),
}
PRESETS["micro_t2"] = replace(PRESETS["micro"], name="micro_t2", truncated_steps=2,
                              batch_size=1)
