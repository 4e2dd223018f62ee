"""The twin pairs, found by name: `--model cross_conv`, or `--model MODULE:ATTR` for a pair
defined outside twinport (a `spec.pair.TwinPair`)."""

from __future__ import annotations

from common.errors import UserError, origin
from spec.pair import TwinPair, import_from_cwd

DEFAULT_MODEL = "cross_conv"
# name -> "module:attribute" of its definition, imported on first use.
MODELS = {
    "cross_conv": "spec.cross_conv:PAIR",
    "convlstm": "spec.convlstm:PAIR",
    "cdna": "spec.finn:CDNA_PAIR",
    "dna": "spec.finn:DNA_PAIR",
    "stp": "spec.finn:STP_PAIR",
    "e3d_lstm": "spec.e3d_lstm:PAIR",
    "vpn": "spec.vpn:PAIR",
}


def get_pair(name: str) -> TwinPair:
    """The pair called `name` (or at `MODULE:ATTR`); a UserError listing the known ones."""
    target = MODELS.get(name, name)
    module_name, _, attr = target.partition(":")
    if not attr:
        raise UserError(f"unknown model {name!r} (known: {', '.join(MODELS)}; or "
                        "MODULE:ATTR of your own TwinPair)")
    # The module is someone else's code: whatever its import raises (a SyntaxError, a
    # NameError, ...) is one line naming where.
    try:
        pair = getattr(import_from_cwd(module_name), attr)
    except UserError as error:  # the pair's own definition refused (an unknown optimizer...)
        raise UserError(f"--model {name}: {origin(error)}{error}") from None
    except Exception as error:
        raise UserError(f"--model {name}: cannot load {target} ({origin(error)}"
                        f"{type(error).__name__}: {error})") from None
    if not isinstance(pair, TwinPair):
        raise UserError(f"--model {name}: {target} is not a spec.pair.TwinPair")
    return pair
