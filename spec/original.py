"""How to run a pair's original TF1 code, to check the pair's TF reference against it.

A reference re-implemented on today's TF can be as wrong as a port, and parity cannot see a
mistake both twins share. `twinport parity original` builds the original graph-building code
(on the user's disk, never in this repository) under `tf.compat.v1`, with `tf_slim` standing
in for `tensorflow.contrib`, loads the pair's weights into it by variable name, feeds the same
inputs and noise, and compares the tensors this record names with the reference's taps
(`tf_reference.original` runs it, `parity.original` compares).

Framework-free: `build` is handed TF's compat.v1 module and a loader of the original's modules.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from common.errors import UserError


@dataclass(frozen=True)
class Patch:
    """A change made to an original file's text as it is loaded (the file on disk is never
    touched): `old` must occur exactly `count` times; `why` is printed with the check."""

    file: str
    old: str
    new: str
    why: str
    count: int = 1


@dataclass(frozen=True)
class OriginalCode:
    """The map from a pair to its original TF1 code.

    source: where the code is published, for messages and docs.
    files: the files the user's folder must hold (`prediction_model.py`, ...).
    flags: (preset, training) -> the `FLAGS` values the code reads (`tf.flags` is replaced by
        a namespace holding these; a flag the code reads and the map does not set is an error
        naming it).
    patches: preset -> the changes its code needs to run today or at the preset's sizes, each
        with its reason.
    build: (tf, load, inputs, preset, training) -> the taps the original computes, by the
        pair's tap names. `tf` is `tf.compat.v1`; `load(name)` imports the original's module
        `name` (patched); `inputs` the pair's inputs as placeholders by name (TF layout; the
        pair's tap values when `fed_taps` names them). Called inside a graph, in no scope.
    tensors: (preset, training) -> pair tap -> the original graph's tensor name.
    noise: (preset, noise of the forward, training) -> original tensor name -> the value fed
        in place of the random op that made it (`tf.random_shuffle`, ...).
    feeds: (preset, the pair's inputs, the reference's taps, training) -> original tensor
        name -> the value fed to it (a placeholder the pair has no input for: the VPN's
        initial LSTM state, which its code computes in a run of its own).
    fed_taps: pair input name -> the pair tap fed to the original in its place (the tiny
        presets' frames are the pair's pooled frames: pooling is not the original's).
    variable: the pair's variable name -> the original's (default: the same).
    version: preset -> the version of the code the preset follows, if versions differ.
    detect: the code's folder -> the version its files are (None: unknown), so a preset of
        another version is one line naming the right one, not a missing tensor.
    """

    source: str
    files: tuple[str, ...]
    flags: Callable[[Any, bool], Mapping[str, Any]]
    build: Callable[..., Mapping[str, Any]]
    tensors: Callable[[Any, bool], Mapping[str, str]]
    noise: Callable[[Any, Mapping[str, np.ndarray], bool], Mapping[str, np.ndarray]] = (
        lambda preset, noise, training: {})
    patches: Callable[[Any], tuple[Patch, ...]] = lambda preset: ()
    feeds: Callable[[Any, Mapping[str, np.ndarray], Mapping[str, np.ndarray], bool],
                    Mapping[str, np.ndarray]] = lambda preset, inputs, taps, training: {}
    fed_taps: Mapping[str, str] = field(default_factory=dict)
    variable: Callable[[str], str] = lambda name: name
    version: Callable[[Any], str] | None = None
    detect: Callable[[Path], str | None] | None = None

    def check_folder(self, folder: str | Path, preset: Any) -> Path:
        """The folder, resolved; one line when it is missing, lacks a file, or holds another
        version of the code than the preset follows."""
        path = Path(folder).resolve()
        if not path.is_dir():
            raise UserError(f"--code {path}: no such folder (the original code's folder: "
                            f"{self.source})")
        absent = [name for name in self.files if not (path / name).is_file()]
        if absent:
            raise UserError(f"--code {path}: lacks {', '.join(absent)} (the files of "
                            f"{self.source})")
        if self.version is not None and self.detect is not None:
            found, wanted = self.detect(path), self.version(preset)
            if found is not None and found != wanted:
                raise UserError(f"--code {path} holds the {found} version of {self.source}; "
                                f"preset {getattr(preset, 'name', preset)} follows {wanted} "
                                f"(pick a preset of {found})")
        return path
