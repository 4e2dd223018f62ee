"""Model sizes and flags of Finn et al.'s action-conditioned video predictor (seed 001;
tensorflow/models research/video_prediction, docs/models/finn.md).

One preset record for the three variants; `transform` picks CDNA, DNA or STP as the TF code's
`--model` flag does. Each variant's pair has `paper` (the published flags on twinport's
pushing set: 2-d state and action), `push` (the same on the original push records: 5-d pose,
`twinport data from-push-tfrecord`) and `tiny` (every layer kind, small).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from common.errors import UserError

TRANSFORMS = ("cdna", "dna", "stp")
# The two public versions of tensorflow/models' prediction_model.py (docs/models/finn.md):
# the older keeps slim's default relu after convt3's layer norm and on convt4 and convt7
# (the code of the paper's 2016 release computes the same); the newer passes
# activation_fn=None to all three.
OLDER, NEWER = "69cc9e9", "8699e3b"
CODE_VERSIONS = (OLDER, NEWER)


@dataclass(frozen=True)
class Preset:
    """The numbers and flags that fix one predictor.

    transform: "cdna", "dna" or "stp" (the TF code's `--model`).
    data_size: the frames read are data_size x data_size x channels, mean-pooled to
        image_size x image_size in the graph when smaller (the tiny preset).
    image_size: the model's frames (three stride-2 convs: a multiple of 8).
    seq_len: frames read per sequence (`--sequence_length`, 10), of which the first
        `context_frames` (2) are always ground truth.
    num_masks: motion predictions (CDNA, STP: 10; DNA: exactly 1, as the TF code insists).
    lstm_sizes: the seven ConvLSTM cells' widths (32, 32, 64, 64, 128, 64, 32).
    lstm_kernel: the cells' Gates conv size (5); forget_bias 1.0 (`basic_conv_lstm_cell`).
    state_dim / action_dim: the robot state and action vectors' lengths (the data's).
    use_state: state and action smeared into the 8x8 map (`--use_state`, 1).
    schedsamp_k: scheduled sampling's k (900; -1: always feed the model's own prediction).
    dna_kernel: DNA_KERN_SIZE, the CDNA and DNA kernels' size (5).
    stp_hidden: `fc_stp`'s width (100).
    state_cost: the state loss's weight (1e-4).
    code_version: which prediction_model.py the graph follows: "69cc9e9" (the older, the
        default: relu after convt3's layer norm, on convt4 and on convt7) or "8699e3b" (the
        newer: none of the three).
    """

    name: str
    transform: str = "cdna"
    data_size: int = 64
    image_size: int = 64
    channels: int = 3
    seq_len: int = 10
    context_frames: int = 2
    num_masks: int = 10
    lstm_sizes: tuple[int, ...] = (32, 32, 64, 64, 128, 64, 32)
    lstm_kernel: int = 5
    forget_bias: float = 1.0
    state_dim: int = 2
    action_dim: int = 2
    use_state: bool = True
    schedsamp_k: float = 900.0
    dna_kernel: int = 5
    stp_hidden: int = 100
    state_cost: float = 1e-4
    code_version: str = OLDER

    def __post_init__(self) -> None:
        problems = []
        if self.transform not in TRANSFORMS:
            problems.append(f"transform {self.transform!r} (known: {', '.join(TRANSFORMS)})")
        if self.transform == "dna" and self.num_masks != 1:
            problems.append("DNA supports one mask only (num_masks 1)")
        if self.transform == "stp" and self.num_masks < 2:
            problems.append("STP needs num_masks >= 2 (num_masks - 1 transformers)")
        if self.image_size % 8 or self.data_size % self.image_size:
            problems.append(f"image_size {self.image_size} must be a multiple of 8 dividing "
                            f"data_size {self.data_size}")
        if len(self.lstm_sizes) != 7:
            problems.append("lstm_sizes: seven cells")
        if not 0 < self.context_frames < self.seq_len:
            problems.append("context_frames must be between 1 and seq_len - 1")
        if self.code_version not in CODE_VERSIONS:
            problems.append(f"code_version {self.code_version!r} (known: "
                            f"{', '.join(CODE_VERSIONS)})")
        if problems:
            raise UserError(f"preset {self.name}: {'; '.join(problems)}")

    @property
    def pool(self) -> int:
        return self.data_size // self.image_size

    @property
    def slim_relus(self) -> bool:
        """slim's default relu after convt3's layer norm and on convt4 and convt7 (the older
        code); the newer passes activation_fn=None to the three."""
        return self.code_version == OLDER

    @property
    def steps(self) -> int:
        """Time steps unrolled: one per frame but the last (each predicts the next frame)."""
        return self.seq_len - 1

    @property
    def sampled_steps(self) -> int:
        """Steps after the warm start, where scheduled sampling mixes in predictions."""
        return self.steps - self.context_frames


def variant_presets(transform: str) -> dict[str, Preset]:
    """The paper, push and tiny presets of one variant (the older code's), and paper and tiny
    as the newer code computes them (`paper-8699e3b`, `tiny-8699e3b`)."""
    masks = 1 if transform == "dna" else 10
    paper = Preset("paper", transform=transform, num_masks=masks)
    tiny = Preset("tiny", transform=transform, image_size=16, seq_len=6,
                  num_masks=1 if transform == "dna" else 3, lstm_sizes=(4, 4, 6, 6, 8, 6, 4),
                  lstm_kernel=3, stp_hidden=8, schedsamp_k=2.0)
    return {
        "paper": paper,
        "push": replace(paper, name="push", state_dim=5, action_dim=5),
        "tiny": tiny,
        **{f"{p.name}-{NEWER}": replace(p, name=f"{p.name}-{NEWER}", code_version=NEWER)
           for p in (paper, tiny)},
    }
