"""Load the port under test: the built-in Chainer port, or any `MODULE:FACTORY`."""

from __future__ import annotations

import importlib
import os
import sys
from types import ModuleType
from typing import Any

from common.errors import UserError

DEFAULT_PORT = "chainer_port.model:CrossConvModel"
INTERFACE = ("forward", "run_layer", "gradients", "train_step", "get_weights", "set_weights",
             "load", "save", "to_numpy")


def load_port(spec: str, preset: str, seed: int, device: str) -> tuple[Any, str]:
    """The port object `FACTORY(preset, seed=, device=)` returns, and its tap layout.

    MODULE is imported as `python -m` would, from the current directory too (the `twinport`
    script does not put it on sys.path): `--port tests.mutants:BNDecay` from a checkout.

    The layout is the object's `layout` attribute ("NCHW" or "NHWC"), NCHW when absent.
    """
    module_name, _, factory_name = spec.partition(":")
    if not module_name or not factory_name:
        raise UserError(f"--port {spec!r}: expected MODULE:FACTORY, e.g. {DEFAULT_PORT}")
    # The port is someone else's code: whatever its import or its factory raises is reported
    # as a bad --port, in one line.
    try:
        module = import_from_cwd(module_name)
    except Exception as error:
        raise UserError(f"--port {spec}: cannot import {module_name} "
                        f"({type(error).__name__}: {error})") from None
    factory = getattr(module, factory_name, None)
    if not callable(factory):
        raise UserError(f"--port {spec}: {module_name} has no callable {factory_name}")
    try:
        port = factory(preset, seed=seed, device=device)
    except UserError:
        raise
    except Exception as error:
        raise UserError(f"--port {spec}: {factory_name}({preset!r}, seed={seed}, "
                        f"device={device!r}) failed ({type(error).__name__}: {error})") from None
    missing = [name for name in INTERFACE if not callable(getattr(port, name, None))]
    if missing:
        raise UserError(f"--port {spec}: the object lacks the port interface "
                        f"(missing {', '.join(missing)}; see docs/port-interface.md)")
    return port, getattr(port, "layout", "NCHW")


def import_from_cwd(name: str) -> ModuleType:
    """`importlib.import_module(name)`, retried with the current directory on sys.path."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError:
        if os.getcwd() in sys.path or "" in sys.path:
            raise
        sys.path.append(os.getcwd())
        return importlib.import_module(name)
