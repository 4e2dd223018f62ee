"""The stack (docs/stack.md): Chainer 7.8.1 on NumPy 2 through `chainer_port.compat`, one place
that imports it, the interpreter the Makefile picks, GPU extras that resolve, each twin without
the other framework, and TensorFlow kept quiet before a user's one-line error."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
NUMPY2 = np.lib.NumpyVersion(np.__version__) >= "2.0.0"
# The modules that import chainer_port.compat for everything below them that imports chainer.
COMPAT_ENTRIES = ("chainer_port/__init__.py", "tests/conftest.py")
IMPORTS_CHAINER = re.compile(r"^\s*(import chainer\b(?!_)|from chainer(\.| import))", re.M)


def python(code: str, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """`python -c CODE ARGS` at the repo root, without the user's TF log level unless `env`
    sets one."""
    base = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          cwd=ROOT, env={**base, **(env or {})}, timeout=600)


def twinport(argv: list[str], block: str | None = None) -> subprocess.CompletedProcess:
    """`twinport ARGV` in a fresh interpreter; `block`: a framework made unimportable there.
    Prints, after the command, whether tensorflow was imported."""
    blocked = f"sys.modules[{block!r}] = None; " if block else ""
    code = (f"import sys; {blocked}from twinport.cli import main; status = main(sys.argv[1:]); "
            "print('tensorflow imported:', 'tensorflow' in sys.modules and "
            "sys.modules['tensorflow'] is not None); sys.exit(status)")
    return python(code, *argv)


@pytest.mark.skipif(not NUMPY2, reason="the names are NumPy 2 removals")
def test_plain_chainer_does_not_import_on_numpy2_and_compat_fixes_it():
    plain = python("import chainer")
    assert plain.returncode != 0 and "was removed in the NumPy 2.0 release" in plain.stderr
    fixed = python("import chainer_port.compat as c, chainer; print(c.provided())")
    assert fixed.returncode == 0, fixed.stderr
    assert fixed.stdout.split("\n")[0] == str(
        ["numpy.sctypes", "numpy.float", "numpy.distutils.system_info"])
    assert "pkg_resources" not in fixed.stderr


@pytest.mark.skipif(not NUMPY2, reason="the names are NumPy 2 removals")
def test_the_provided_names_are_numpy1s():
    from chainer_port import compat

    assert np.float is float
    assert [t().itemsize for t in np.sctypes["int"]] == [1, 2, 4, 8]
    assert np.dtype(np.float32) in np.sctypes["float"]
    assert np.distutils.system_info.get_info("blas_opt") == {}
    assert all(name.startswith("numpy.") for name in compat.provided())


def test_chainer_reads_them_where_the_docstring_says():
    """as_strided's index dtypes and backward check, and resize_images' float64 coordinates."""
    import chainer
    import chainer.functions as F

    x = np.arange(12, dtype=np.float32).reshape(1, 1, 3, 4)
    y = F.resize_images(x, (5, 7), align_corners=True).array
    rows, cols = np.linspace(0, 2, 5), np.linspace(0, 3, 7)
    expected = rows[:, None] * 4 + cols[None, :]  # bilinear of a linear ramp: the ramp
    np.testing.assert_allclose(y[0, 0], expected, rtol=0, atol=1e-5)
    base = chainer.Variable(np.arange(6, dtype=np.float32))
    windows = F.as_strided(base, (2, 3), (1, 1))  # strides in elements: [0 1 2], [1 2 3]
    np.testing.assert_array_equal(windows.array, [[0, 1, 2], [1, 2, 3]])
    F.sum(windows).backward()
    np.testing.assert_array_equal(base.grad, [1, 2, 2, 1, 0, 0])


def test_only_the_compat_entries_import_chainer_outside_the_port_and_tests():
    """Outside chainer_port/ and tests/, Chainer is reached only through chainer_port; the
    package and the test suite each import the compatibility module first."""
    offenders = []
    for path in ROOT.rglob("*.py"):
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith((".venv/", "data/generated/", "build/")):
            continue
        if IMPORTS_CHAINER.search(path.read_text()) and not relative.startswith(
                ("chainer_port/", "tests/")):
            offenders.append(relative)
    assert offenders == []
    for entry in COMPAT_ENTRIES:
        text = (ROOT / entry).read_text()
        before, found, _ = text.partition("from chainer_port import compat")
        if not found:
            before, found, _ = text.partition("import chainer_port.compat")
        assert found and not IMPORTS_CHAINER.search(before), entry


@pytest.mark.parametrize("backend, block", [("chainer", "tensorflow"), ("tf", "chainer")])
def test_each_twin_runs_without_the_other_framework(tmp_path, backend, block):
    result = twinport(["weights", "init", "--backend", backend, "--preset", "tiny",
                       "-o", str(tmp_path / "w.npz")], block=block)
    assert result.returncode == 0, result.stderr
    frames = np.random.default_rng(0).random((2, 2, 16, 16, 3), dtype=np.float32)
    np.save(tmp_path / "x.npy", frames)
    result = twinport(["predict", "--backend", backend, "--preset", "tiny", "--weights",
                       str(tmp_path / "w.npz"), "--input", str(tmp_path / "x.npy"),
                       "-o", str(tmp_path / "y.npy")], block=block)
    assert result.returncode == 0, result.stderr
    assert np.all(np.isfinite(np.load(tmp_path / "y.npy")))


def test_a_damaged_weights_file_is_refused_in_one_line_before_tensorflow_loads(tmp_path):
    (tmp_path / "w.npz").write_bytes(b"PK\x03\x04 not a zip archive")
    np.save(tmp_path / "x.npy", np.zeros((1, 2, 16, 16, 3), np.float32))
    result = twinport(["predict", "--backend", "tf", "--preset", "tiny", "--weights",
                       str(tmp_path / "w.npz"), "--input", str(tmp_path / "x.npy"),
                       "-o", str(tmp_path / "y.npy")])
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("twinport: error: ")
    assert "tensorflow imported: False" in result.stdout
    assert not (tmp_path / "y.npy").exists()


def test_tf_start_up_logs_are_quiet_unless_asked_for(tmp_path):
    """A TF command's stderr holds its own lines only; --debug (or the user's level) shows TF's."""
    code = ("import os, sys; from twinport.cli import main; main(sys.argv[1:]); "
            "print(os.environ.get('TF_CPP_MIN_LOG_LEVEL'))")
    argv = ["weights", "init", "--backend", "tf", "--preset", "tiny", "-o", str(tmp_path / "w.npz")]
    quiet = python(code, *argv)
    assert quiet.stdout.strip().endswith("2") and quiet.stderr == "", quiet.stderr
    debug = python(code, "--debug", *argv)
    assert debug.stdout.strip().endswith("0")
    own = python(code, *argv, env={"TF_CPP_MIN_LOG_LEVEL": "1"})
    assert own.stdout.strip().endswith("1")


def find_python(*args: str, path: str | None = None) -> subprocess.CompletedProcess:
    """The Makefile's interpreter search; `path`: the only PATH (and HOME) it may look in."""
    env = {**os.environ, "PATH": path, "HOME": path} if path else None
    return subprocess.run(["/bin/sh", str(ROOT / "scripts" / "find_python.sh"), *args],
                          capture_output=True, text=True, env=env, timeout=120)


def test_the_makefile_finds_a_supported_python():
    found = find_python()
    assert found.returncode == 0, found.stderr
    version = subprocess.run([found.stdout.strip(), "-c",
                              "import sys; print(sys.version_info[:2])"],
                             capture_output=True, text=True).stdout.strip()
    assert version in ("(3, 12)", "(3, 13)", "(3, 11)")


def test_a_missing_or_venvless_python_gets_one_line(tmp_path):
    missing = find_python(str(tmp_path / "python3.12"))
    assert missing.returncode == 1 and missing.stderr.count("\n") == 1
    assert "is not a runnable Python 3.11, 3.12 or 3.13" in missing.stderr
    fake = tmp_path / "python3.12"
    # A Python whose ensurepip is missing, as Debian's python3.12 without python3.12-venv.
    fake.write_text('#!/bin/sh\ncase "$2" in *ensurepip*) exit 1;; esac\n'
                    f'exec {sys.executable} "$@"\n')
    fake.chmod(0o755)
    venvless = find_python(str(fake))
    assert venvless.returncode == 1 and venvless.stderr.count("\n") == 1
    assert "has no venv/ensurepip: install python3." in venvless.stderr
    nothing = find_python(path=str(tmp_path / "empty"))
    assert nothing.returncode == 1 and "no Python 3.12, 3.13 or 3.11 found" in nothing.stderr


def test_the_gpu_extras_resolve_on_top_of_the_cpu_stack(tmp_path):
    """pip's own resolver, no install: requirements.txt + requirements-gpu.txt in one env."""
    report = tmp_path / "report.json"
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--ignore-installed",
         "--disable-pip-version-check", "--no-build-isolation", "--report", str(report),
         "-r", str(ROOT / "requirements.txt"), "-r", str(ROOT / "requirements-gpu.txt")],
        capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-2000:]
    names = {item["metadata"]["name"].lower(): item["metadata"]["version"]
             for item in json.loads(report.read_text())["install"]}
    assert names["cupy-cuda12x"].startswith("14.")
    assert names["nvidia-cudnn-cu12"].startswith("9.")
    assert "tensorflow" in names and "tensorflow-cpu" not in names  # one tensorflow/ folder
    assert names["numpy"].startswith("2.")
