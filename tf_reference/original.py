"""Run a pair's original TF1 code today: `tf.compat.v1` graph mode, `tf_slim` for
`tensorflow.contrib`, the code's `FLAGS` from the pair's map (`spec.original.OriginalCode`).

The code is imported from the user's folder by a finder that applies the map's patches to the
text in memory (the files are never changed) and compiles it under its own file name, so a
traceback points into the user's file. Everything is undone afterwards: `sys.modules` holds
no original module and `tensorflow` is TF 2 again.
"""

from __future__ import annotations

import collections
import contextlib
import importlib
import importlib.abc
import importlib.util
import sys
import types
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from common.errors import UserError, origin
from spec.original import OriginalCode, Patch

tf1 = tf.compat.v1


class Flags:
    """`tf.flags.FLAGS` for code that is not run as a program: the map's values; a DEFINE_*
    only sets a default the map left out; reading an unset flag is an error naming it."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        object.__setattr__(self, "_values", dict(values))

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise UserError(f"the original code reads FLAGS.{name}, which the pair's map to "
                            "it does not set (spec.original.OriginalCode.flags)") from None

    def __setattr__(self, name: str, value: Any) -> None:
        self._values[name] = value

    def define(self, name: str, default: Any, *args: Any, **kwargs: Any) -> None:
        self._values.setdefault(name, default)


def _module(name: str, **attributes: Any) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__dict__.update(attributes)
    return module


def _legacy_conv(rank: int) -> Callable[..., tf.Tensor]:
    """TF1's functional `tf.layers.conv{rank}d` (Keras 3's TF has none): the variables
    `kernel` (the given initialiser, else glorot uniform: get_variable's default) and `bias`
    (zeros) in a variable scope named as a legacy layer names itself: its `name`, or
    `conv{rank}d`, `conv{rank}d_1`, ... in call order, counted afresh each time the enclosing
    scope is entered; then the (dilated) convolution, bias_add and the activation. Channels
    last: what the seeds call."""

    def conv(inputs: tf.Tensor, filters: int, kernel_size: Any, strides: Any = 1,
             padding: str = "valid", dilation_rate: Any = 1, activation: Any = None,
             use_bias: bool = True, kernel_initializer: Any = None, name: str | None = None
             ) -> tf.Tensor:
        def per_axis(value: Any) -> tuple[int, ...]:
            return tuple(value) if isinstance(value, (list, tuple)) else (value,) * rank

        with tf1.variable_scope(None, default_name=name or f"conv{rank}d"):
            weights = tf1.get_variable("kernel", [*per_axis(kernel_size), inputs.shape[-1],
                                                  filters], initializer=kernel_initializer)
            y = tf.nn.convolution(inputs, weights, [*per_axis(strides)], padding.upper(),
                                  dilations=[*per_axis(dilation_rate)])
            if use_bias:
                y = tf.nn.bias_add(y, tf1.get_variable("bias", [filters],
                                                       initializer=tf1.zeros_initializer()))
        return activation(y) if activation else y

    return conv


def _stand_ins(flags: Flags) -> dict[str, types.ModuleType]:
    """The modules TF1 code imports that TF 2 no longer has."""
    import tf_slim

    flags_module = _module("tensorflow.python.platform.flags", FLAGS=flags,
                           **{f"DEFINE_{kind}": flags.define for kind in (
                               "string", "integer", "float", "bool", "boolean", "list")})
    layers_python = _module("tensorflow.contrib.layers.python", layers=tf_slim.layers)
    layers = _module("tensorflow.contrib.layers", python=layers_python, **{
        name: getattr(tf_slim.layers, name) for name in dir(tf_slim.layers)
        if not name.startswith("_")})
    layers.xavier_initializer = tf_slim.xavier_initializer
    # TF1's LSTMStateTuple is a namedtuple (c, h); Keras 3's TF lacks it.
    rnn = _module("tensorflow.contrib.rnn",
                  LSTMStateTuple=collections.namedtuple("LSTMStateTuple", ("c", "h")))
    contrib = _module("tensorflow.contrib", slim=tf_slim, layers=layers, rnn=rnn)
    # `import tensorflow.contrib.slim` looks `contrib` up on the module named `tensorflow`.
    legacy = _module("tensorflow.layers", conv2d=_legacy_conv(2), conv3d=_legacy_conv(3))
    v1 = _module("tensorflow", contrib=contrib, layers=legacy,
                 __getattr__=lambda name: getattr(tf1, name))
    return {
        "tensorflow": v1,
        "tensorflow.contrib": contrib,
        "tensorflow.contrib.slim": tf_slim,
        "tensorflow.contrib.layers": layers,
        "tensorflow.contrib.rnn": rnn,
        "tensorflow.contrib.layers.python": layers_python,
        "tensorflow.contrib.layers.python.layers": tf_slim.layers,
        "tensorflow.python.platform": _module("tensorflow.python.platform",
                                              flags=flags_module, gfile=tf1.gfile),
        "tensorflow.python.platform.flags": flags_module,
    }


def patched_text(path: Path, patches: tuple[Patch, ...]) -> str:
    """The file's text with the patches for it applied; a patch whose text is not found as
    often as it expects is one line: the user's code is another version than the map's."""
    text = path.read_text()
    for patch in patches:
        if patch.file != path.name:
            continue
        found = text.count(patch.old)
        if found != patch.count:
            raise UserError(f"{path}: expected {patch.count} occurrence(s) of {patch.old!r} "
                            f"to patch ({patch.why}), found {found}: another version of the "
                            "original code than the pair's map knows")
        text = text.replace(patch.old, patch.new)
    return text


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports modules found as FOLDER/NAME.py, patched, and FOLDER/PACKAGE/.../NAME.py as
    `PACKAGE....NAME` (google/e3d_lstm's `src.models....`: its folders have no __init__.py)."""

    def __init__(self, folder: Path, patches: tuple[Patch, ...]) -> None:
        self.folder, self.patches = folder, patches
        self.loaded: list[str] = []

    def find_spec(self, name: str, path: Any = None, target: Any = None
                  ) -> importlib.machinery.ModuleSpec | None:
        top = name.split(".")[0]
        if path is not None and top not in self.loaded:
            return None
        base = self.folder.joinpath(*name.split("."))
        if base.with_suffix(".py").is_file():
            return importlib.util.spec_from_loader(name, self, origin=str(base) + ".py")
        if base.is_dir() and any(base.rglob("*.py")):
            spec = importlib.util.spec_from_loader(name, self, origin=str(base),
                                                   is_package=True)
            spec.submodule_search_locations = [str(base)]
            return spec
        return None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> None:
        return None

    def exec_module(self, module: types.ModuleType) -> None:
        self.loaded.append(module.__name__)
        base = self.folder.joinpath(*module.__name__.split("."))
        if base.is_dir():
            return
        file = base.with_suffix(".py")
        module.__file__ = str(file)
        exec(compile(patched_text(file, self.patches), str(file), "exec"), module.__dict__)


@contextlib.contextmanager
def original_modules(folder: Path, patches: tuple[Patch, ...], flags: Mapping[str, Any]
                     ) -> Iterator[Callable[[str], types.ModuleType]]:
    """Within: `load(name)` imports the original's module `name` from `folder`, with TF1's
    modules standing in; afterwards every module as before."""
    stand_ins = _stand_ins(Flags(flags))
    saved = {name: sys.modules.get(name) for name in stand_ins}
    finder = _Finder(folder, patches)
    verbosity = tf1.logging.get_verbosity()
    tf1.logging.set_verbosity(tf1.logging.ERROR)  # TF1 code's deprecation notices
    sys.modules.update(stand_ins)
    sys.meta_path.insert(0, finder)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*layer.apply.* is deprecated")
            yield importlib.import_module
    finally:
        tf1.logging.set_verbosity(verbosity)
        sys.meta_path.remove(finder)
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
        for name in finder.loaded:
            sys.modules.pop(name, None)


@dataclass
class VariableMatch:
    """How the original's variables line up with the pair's: `extra` the original has and the
    pair does not (left at the original's initialiser); `same_order` whether the shared ones
    are created in the same order."""

    count: int
    extra: list[str] = field(default_factory=list)
    same_order: bool = True


def _match_variables(code: OriginalCode, weights: Mapping[str, np.ndarray]
                     ) -> tuple[dict[str, Any], VariableMatch]:
    """The original's variable of each pair variable (by the map's name rule; shapes
    checked), and how the two lists line up."""
    variables = {v.op.name: v for v in tf1.global_variables()}
    names = {code.variable(name): name for name in weights}
    missing = [name for name in names if name not in variables]
    if missing:
        raise UserError(f"the original graph has no variable {missing[0]} (the pair's "
                        f"{names[missing[0]]}; {len(missing)} missing of {len(names)}; its "
                        f"variables: {', '.join(list(variables)[:8])}...)")
    for original, name in names.items():
        shape = tuple(variables[original].shape)
        if shape != weights[name].shape:
            raise UserError(f"variable {original}: the original's shape {list(shape)}, the "
                            f"pair's {list(weights[name].shape)} (both TF layout)")
    shared = [name for name in variables if name in names]
    return ({name: variables[original] for original, name in names.items()},
            VariableMatch(len(names), [name for name in variables if name not in names
                                       and variables[name].trainable],
                          shared == list(names)))


def run_original(code: OriginalCode, folder: Path, preset: Any,
                 inputs: Mapping[str, np.ndarray], noise: Mapping[str, np.ndarray],
                 weights: Mapping[str, np.ndarray], training: bool,
                 fed: Mapping[str, np.ndarray] | None = None
                 ) -> tuple[dict[str, np.ndarray], VariableMatch]:
    """The taps the original code computes on `inputs` (TF layout) from `weights` (the pair's
    names), its random ops fed from `noise` and its tensors named in `fed` with their values;
    and how its variables matched. `folder`: resolved and checked
    (`OriginalCode.check_folder`)."""
    graph = tf.Graph()
    with graph.as_default(), original_modules(folder, code.patches(preset),
                                              code.flags(preset, training)) as load:
        # The original's initialisers draw unseeded, which TF refuses once op determinism is
        # on (twinport turns it on); their values are replaced by the pair's weights anyway.
        tf1.set_random_seed(0)
        placeholders = {name: tf1.placeholder(tf.float32, value.shape, name=f"twinport_{name}")
                        for name, value in inputs.items()}
        try:
            built = dict(code.build(tf1, load, placeholders, preset, training))
        except UserError:
            raise
        except Exception as error:
            raise UserError(f"the original code raised building its graph: "
                            f"{origin(error, folder)}{type(error).__name__}: {error}") from None
        variables, match = _match_variables(code, weights)
        fetches = {**built, **_tensors(graph, code.tensors(preset, training))}
        feeds = {placeholders[name]: value for name, value in inputs.items()}
        for name, value in {**code.noise(preset, noise, training), **(fed or {})}.items():
            feeds[_tensor(graph, name)] = value
        with tf1.Session(graph=graph) as session:
            session.run(tf1.global_variables_initializer())
            for name, variable in variables.items():
                variable.load(weights[name], session)
            try:
                values = session.run(fetches, feeds)
            except tf.errors.OpError as error:
                raise UserError(f"the original graph failed to run: {error.message}") from None
    return {tap: np.asarray(value) for tap, value in values.items()}, match


def _tensor(graph: tf.Graph, name: str) -> tf.Tensor:
    try:
        return graph.get_tensor_by_name(name)
    except (KeyError, ValueError):
        scope = name.rsplit("/", 1)[0]
        near = [op.name for op in graph.get_operations() if op.name.startswith(scope + "/")]
        raise UserError(f"the original graph has no tensor {name} (ops under {scope}/: "
                        f"{', '.join(near[:12]) or 'none'})") from None


def _tensors(graph: tf.Graph, names: Mapping[str, str]) -> dict[str, tf.Tensor]:
    return {tap: _tensor(graph, name) for tap, name in names.items()}
