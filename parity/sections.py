"""The parity sections as one table: one record per section, read by the comparer, the
verdict, the reports and the seed sweep, so a section's facts live in one place."""

from __future__ import annotations

from dataclasses import dataclass

from spec.section_keys import (
    AFTER_TRAINING,
    BACKWARD_ISOLATED,
    CAUSALITY,
    FORWARD_E2E_INFERENCE,
    FORWARD_E2E_TRAINING,
    FORWARD_ISO_INFERENCE,
    FORWARD_ISO_TRAINING,
    GRADIENTS,
    INITIALISATION,
    INPUT_GRADIENT,
    MOVING_STATISTICS,
    SAMPLING,
    TRAINING_LOSSES,
)


@dataclass(frozen=True)
class Section:
    """key: as in a verdict and `summary.json`. item: what one row is ("tap", "parameter",
    "tensor", "step"). tolerance: the `parity.tolerances.Tolerances` field it is judged with
    ("" for the initialisation, judged against closed forms, the causality, exact, and the
    sampling, judged by its draws).
    layout: how `parity.diagnose` reads its arrays ("nhwc", "hwio", "flat"; "" when each item
    says). mode: the forward mode of a forward section ("inference", "training"), ""
    elsewhere. isolated: each layer fed the reference's inputs (and, backward, its upstream
    gradient).
    """

    key: str
    title: str
    item: str
    tolerance: str
    layout: str
    mode: str = ""
    isolated: bool = False


SECTIONS: tuple[Section, ...] = (
    Section(FORWARD_E2E_INFERENCE, "forward, end-to-end, inference", "tap", "inference",
            "nhwc", "inference"),
    Section(FORWARD_E2E_TRAINING, "forward, end-to-end, training", "tap", "training", "nhwc",
            "training"),
    Section(FORWARD_ISO_INFERENCE, "forward, isolated layers, inference", "tap", "inference",
            "nhwc", "inference", isolated=True),
    Section(FORWARD_ISO_TRAINING, "forward, isolated layers, training", "tap", "training",
            "nhwc", "training", isolated=True),
    Section(MOVING_STATISTICS, "normalisation statistics' update of one training forward",
            "parameter", "moving_statistics", "flat"),
    Section(BACKWARD_ISOLATED, "backward, isolated layers", "gradient", "gradients", "",
            isolated=True),
    Section(GRADIENTS, "parameter gradients", "parameter", "gradients", "hwio"),
    Section(INPUT_GRADIENT, "input gradients", "tensor", "gradients", "nhwc"),
    Section(TRAINING_LOSSES, "training losses per step", "step", "steps", ""),
    Section(AFTER_TRAINING, "parameters after K steps", "parameter", "after_training", "hwio"),
    Section(INITIALISATION, "each side's own initial weights vs TF's initialisers",
            "parameter", "", ""),
    Section(CAUSALITY, "causality of the autoregressive taps", "pixel", "", ""),
    Section(SAMPLING, "the next frame sampled pixel by pixel", "frame", "", ""),
)
BY_KEY = {section.key: section for section in SECTIONS}
SECTION_ORDER = tuple(section.key for section in SECTIONS)
FORWARD_SECTIONS = tuple(section.key for section in SECTIONS if section.mode)
E2E_SECTIONS = tuple(s for s in SECTIONS if s.mode and not s.isolated)
ISOLATED_SECTIONS = tuple(s for s in SECTIONS if s.mode and s.isolated)


def title(key: str) -> str:
    """A section's title (an unknown key is its own)."""
    return BY_KEY[key].title if key in BY_KEY else key


def item_word(key: str | None) -> str:
    """What one row of the section is ("tap" for an unknown key)."""
    return BY_KEY[key].item if key in BY_KEY else "tap"
