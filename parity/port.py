"""Load the port under test: the built-in Chainer port, or any `MODULE:FACTORY`."""

from __future__ import annotations

import importlib
from typing import Any

from twinport.errors import UserError

DEFAULT_PORT = "chainer_port.model:CrossConvModel"
INTERFACE = ("forward", "run_layer", "gradients", "train_step", "get_weights", "set_weights",
             "load", "save", "to_numpy")


def load_port(spec: str, preset: str, seed: int, device: str) -> tuple[Any, str]:
    """The port object `FACTORY(preset, seed=, device=)` returns, and its tap layout.

    The layout is the object's `layout` attribute ("NCHW" or "NHWC"), NCHW when absent.
    """
    module_name, _, factory_name = spec.partition(":")
    if not module_name or not factory_name:
        raise UserError(f"--port {spec!r}: expected MODULE:FACTORY, e.g. {DEFAULT_PORT}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise UserError(f"--port {spec}: cannot import {module_name} ({error})") from None
    factory = getattr(module, factory_name, None)
    if not callable(factory):
        raise UserError(f"--port {spec}: {module_name} has no callable {factory_name}")
    port = factory(preset, seed=seed, device=device)
    missing = [name for name in INTERFACE if not callable(getattr(port, name, None))]
    if missing:
        raise UserError(f"--port {spec}: the object lacks the port interface "
                        f"(missing {', '.join(missing)}; see docs/port-interface.md)")
    return port, getattr(port, "layout", "NCHW")
