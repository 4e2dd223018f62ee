"""Load the port under test: the pair's own Chainer twin, or any `MODULE:FACTORY`."""

from __future__ import annotations

from typing import Any

from common.errors import UserError, origin
from spec.pair import TwinPair, import_from_cwd

INTERFACE = ("forward", "run_layer", "gradients", "train_step", "get_weights", "set_weights",
             "load", "save", "to_numpy")


def twin_spec(pair: TwinPair, backend: str) -> str:
    """The pair's twin of `backend` as MODULE:FACTORY."""
    twin = pair.twins[backend]
    return twin if isinstance(twin, str) else f"{twin.__module__}:{twin.__qualname__}"


def port_spec(port: str | None, pair: TwinPair) -> str:
    """`--port` as given, or the pair's own Chainer twin."""
    return port or twin_spec(pair, "chainer")


def load_port(spec: str, preset: Any, seed: int, device: str) -> tuple[Any, str]:
    """The port object `FACTORY(preset, seed=, device=)` returns, and its tap layout.

    MODULE is imported as `python -m` would, from the current directory too (the `twinport`
    script does not put it on sys.path): `--port my_port:Model` from the folder of my_port.py.
    `preset`: the pair's preset object (a port built on `spec.twin.TwinModel` takes it as
    it takes a name).

    The layout is the object's `layout` attribute ("NCHW" or "NHWC"), NCHW when absent.
    """
    module_name, _, factory_name = spec.partition(":")
    if not module_name or not factory_name:
        raise UserError(f"--port {spec!r}: expected MODULE:FACTORY, e.g. my_port:MyModel")
    # The port is someone else's code: whatever its import or its factory raises is reported
    # as a bad --port, in one line.
    try:
        module = import_from_cwd(module_name)
    except Exception as error:
        raise UserError(f"--port {spec}: cannot import {module_name} "
                        f"({origin(error)}{type(error).__name__}: {error})") from None
    factory = getattr(module, factory_name, None)
    if not callable(factory):
        raise UserError(f"--port {spec}: {module_name} has no callable {factory_name}")
    name = getattr(preset, "name", preset)
    try:
        port = factory(preset, seed=seed, device=device)
    except UserError:
        raise
    except Exception as error:
        raise UserError(f"--port {spec}: {factory_name}({name!r}, seed={seed}, "
                        f"device={device!r}) failed ({origin(error)}{type(error).__name__}: "
                        f"{error})") from None
    missing = [name for name in INTERFACE if not callable(getattr(port, name, None))]
    missing += [] if hasattr(port, "pair") else ["pair"]
    if missing:
        raise UserError(f"--port {spec}: the object lacks the port interface "
                        f"(missing {', '.join(missing)}; see docs/port-interface.md)")
    return port, getattr(port, "layout", "NCHW")
