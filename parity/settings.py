"""What one parity run is asked to do: the model, its preset and data, the batches, the
training steps, the tolerances, the port and the devices."""

from __future__ import annotations

from dataclasses import dataclass

from spec.registry import DEFAULT_MODEL

MODE_CHOICES = ("both", "end-to-end", "isolated")


@dataclass
class ParitySettings:
    """data: None reads the pair's default dataset. port: None checks the pair's own Chainer
    twin. mode: the forward sections, end to end, isolated or both. repeat: runs of each
    side for the determinism table (`parity.repeat`; 1: none). sample_pixels / greedy: how
    many pixels of an autoregressive pair's next frame the sampling section draws (None or 0:
    all), and whether by argmax instead of the inverse CDF (`parity.sampling`)."""

    model: str = DEFAULT_MODEL
    preset: str = "paper"
    data: str | None = None
    batch_size: int = 4
    seed: int = 0
    steps: int = 20
    lr: float | None = None
    mode: str = "both"
    atol: float | None = None
    rtol: float | None = None
    stat: str = "elemwise"
    port: str | None = None
    tf_device: str = "cpu"
    chainer_device: str = "cpu"
    start_step: int = 0
    repeat: int = 1
    sample_pixels: int | None = 256
    greedy: bool = False
