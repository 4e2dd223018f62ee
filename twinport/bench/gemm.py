"""Where the fast path's convolution time goes: GEMM alone vs im2col + GEMM, MKL vs NumPy,
and oneDNN's direct convolution.

`twinport bench gemm [--preset paper] [--batch-size 4] [--min-gflop 1]` prints, for each
convolution of the preset doing at least --min-gflop GFLOP forward, the GFLOP/s of
- its GEMMs alone: the (pixels, kh*kw*C) x (kh*kw*C, out) products of the fast path's blocks,
  on its thread pool, from columns already in memory;
- the fast path's whole forward convolution (`fast_cpu.kernels.conv`: the column copies too);
each with MKL and with NumPy's BLAS (TWINPORT_BLAS=numpy); and the same convolution on oneDNN
(`fast_cpu.dnnl.conv`) when it is installed; medians of --repeats after a warm-up. NumPy's
OpenBLAS kernels are fixed when it loads: run once more with OPENBLAS_CORETYPE=SkylakeX (or
unset) to compare its kernel sets.
"""

from __future__ import annotations

import os

import numpy as np

from chainer_port.fast_cpu import dnnl, kernels
from chainer_port.fast_cpu.blas import openblas_core
from chainer_port.fast_cpu.config import ENV_BLAS
from chainer_port.fast_cpu.gemm import gemm, uses_mkl
from chainer_port.fast_cpu.threads import gemm_map
from spec.cross_conv import build_spec, get_preset
from spec.layer import Layer
from twinport.bench.worker import median_seconds


def conv_gflop(layer: Layer, batch: int) -> float:
    """Forward GFLOP of a spec conv layer (2 per multiply-add)."""
    height, width, out = layer.shape[-3:]
    k = layer.attrs["kernel"]
    return 2 * batch * height * width * k * k * layer.attrs["in_channels"] * out / 1e9


def measure(layer: Layer, batch: int, repeats: int) -> dict[str, float]:
    """GFLOP/s of `layer`'s GEMMs alone and of its whole convolution, per BLAS, and of the
    convolution on oneDNN."""
    height, width, out = layer.shape[-3:]
    k, channels = layer.attrs["kernel"], layer.attrs["in_channels"]
    rng = np.random.default_rng(0)
    pad = k - 1 if layer.attrs["padding"] == "SAME" else 0
    x = rng.standard_normal((batch, height + pad, width + pad, channels), dtype=np.float32)
    hwio = rng.standard_normal((k, k, channels, out), dtype=np.float32)
    depth = k * k * channels
    blocks = list(kernels.pixel_blocks(batch, height, width, depth * 4))
    pixels = max((b.stop - b.start) * (r.stop - r.start) * width for b, r in blocks)
    columns = [rng.standard_normal((pixels, depth), dtype=np.float32) for _ in range(2)]
    outputs = [np.empty((pixels, out), np.float32) for _ in range(2)]
    weights = hwio.reshape(depth, out)
    total_pixels = batch * height * width

    def gemms() -> None:
        gemm_map(lambda i: gemm(columns[i % 2][:pixels], weights, outputs[i % 2]),
                 range(-(-total_pixels // pixels)))

    gflop = conv_gflop(layer, batch)
    results = {}
    for blas in ("mkl", "numpy"):
        os.environ[ENV_BLAS] = blas
        if blas == "mkl" and not uses_mkl():
            continue
        results[f"GEMM {blas}"] = gflop / median_seconds(gemms, repeats)
        results[f"conv {blas}"] = gflop / median_seconds(
            lambda: kernels.conv(x, hwio, 1), repeats)
    os.environ.pop(ENV_BLAS, None)
    if dnnl.available():
        results["conv oneDNN"] = gflop / median_seconds(
            lambda: dnnl.conv(x, hwio, 1, kernels.NO_PADS), repeats)
    return results


def print_table(preset: str, batch: int, min_gflop: float, repeats: int) -> None:
    """The markdown table of the module's docstring, on stdout; `batch`: frame pairs (the
    spec's default sequences of 2 frames)."""
    layers = [layer for layer in build_spec(get_preset(preset))
              if layer.kind == "conv" and conv_gflop(layer, batch) >= min_gflop]
    print(f"NumPy's OpenBLAS kernels: {openblas_core() or '?'}; MKL: "
          f"{'yes' if uses_mkl() else 'not installed'}; oneDNN: "
          f"{'yes' if dnnl.available() else 'not installed'}; {os.cpu_count()} cores; GFLOP/s")
    rows = [(layer.name, conv_gflop(layer, batch), measure(layer, batch, repeats))
            for layer in layers]
    names = list(rows[0][2]) if rows else []
    print("| layer | GFLOP | " + " | ".join(names) + " |")
    print("|---|---|" + "---|" * len(names))
    for name, gflop, results in rows:
        print(f"| {name} | {gflop:.1f} | " + " | ".join(f"{results[n]:.0f}" for n in names)
              + " |")
