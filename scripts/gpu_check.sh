#!/usr/bin/env bash
# The GPU check (docs/gpu.md), sized for the lent machine: one H200, Python 3.12 + NumPy 2.5 +
# cupy-cuda13x, no TensorFlow, no package registry, one command of at most 10 minutes.
#
#   scripts/gpu_check.sh prepare          here (CPU, TF): builds .gpu-check/ (git-ignored): the
#                                         Chainer wheel, a small dataset, weights, TF captures
#   scripts/gpu_check.sh device           there, with .gpu-check carried: installs the wheel,
#                                         runs `pytest -m gpu`, captures the port on GPU 0 and
#                                         on the CPU, 20 timed train steps per preset; all in $OUT
#   scripts/gpu_check.sh compare DIR      here: the verdicts from the files that came back to DIR
#
# With the device tool: run(command="bash scripts/gpu_check.sh device", carry=[".gpu-check"],
# timeout_s=480); then `scripts/gpu_check.sh compare <files_at>`.
#
# The device step is one command meant to end within 8 minutes (two presets' captures at batch
# 4 and 5 steps, 40 timed steps), leaving device time to rerun it once.
set -euo pipefail
cd "$(dirname "$0")/.."
work=.gpu-check
presets=(tiny paper)
py=${PY:-.venv/bin/python}
twinport() { "$py" -m twinport.cli "$@"; }
capture() {  # backend preset device output [extra args]
  local backend=$1 preset=$2 device=$3 output=$4
  shift 4
  twinport parity capture --backend "$backend" --preset "$preset" --device "$device" \
    --data "$work/data" --weights "$work/weights-$preset.npz" --batch-size 4 --steps 5 \
    -o "$output" "$@"
}

case "${1:-}" in
prepare)
  rm -rf "$work" && mkdir -p "$work/wheels"
  "$py" -m pip wheel --no-deps --no-build-isolation -q -w "$work/wheels" chainer==7.8.1
  # Chainer imports pkg_resources, which the device's setuptools may no longer ship.
  "$py" -m pip download --no-deps -q -d "$work/wheels" setuptools==81.0.0
  twinport data moving-objects --out "$work/data" --seed 0 --count 64
  for preset in "${presets[@]}"; do
    twinport weights init --backend tf --preset "$preset" -o "$work/weights-$preset.npz"
    capture tf "$preset" cpu "$work/tf-$preset.npz"
  done
  du -sh "$work"
  ;;
device)
  : "${OUT:?run on the device machine, where \$OUT is set}"
  export PYTHONUNBUFFERED=1 PY=python3
  py=python3
  python3 -m pip install -q --no-index --no-deps --target /tmp/site "$work"/wheels/*.whl
  export PYTHONPATH="/tmp/site:$PWD${PYTHONPATH:+:$PYTHONPATH}"
  twinport env > "$OUT/env.txt" 2>&1 || true
  python3 -m pytest -q -p no:cacheprovider -m gpu tests/test_gpu.py 2>&1 | tee "$OUT/pytest-gpu.txt"
  for preset in "${presets[@]}"; do
    capture chainer "$preset" 0 "$OUT/gpu-$preset.npz"
    capture chainer "$preset" cpu "$OUT/cpu-$preset.npz" --parts forward,gradients
  done
  capture chainer tiny 0 "$OUT/gpu-tf32-tiny.npz" --allow-tf32 --parts forward,gradients
  python3 - "$work" "$OUT/train-steps.txt" <<'EOF'
import sys, time
import numpy as np
from chainer_port.cross_conv import CrossConvModel
from spec.cross_conv import get_preset
work, out = sys.argv[1:]
with open(out, "w") as handle:
    for preset in ("tiny", "paper"):
        p = get_preset(preset)
        model = CrossConvModel(preset, device="0")
        rng = np.random.default_rng(0)
        frames = rng.random((4, 2, 64, 64, p.channels), dtype=np.float32)
        epsilon = rng.standard_normal((4, p.z_dim)).astype(np.float32)
        model.train_step(frames, epsilon, 0)  # warm-up: kernels compiled, memory pooled
        model.xp.cuda.Device().synchronize()
        start = time.perf_counter()
        for step in range(20):
            model.train_step(frames, epsilon, step)
        model.xp.cuda.Device().synchronize()
        print(f"{preset}: {(time.perf_counter() - start) / 20 * 1000:.1f} ms per train step "
              "(batch 4, 20 steps after one warm-up)", file=handle, flush=True)
EOF
  cat "$OUT/train-steps.txt"
  ;;
compare)
  back=${2:?give the folder the device files came back to}
  for preset in "${presets[@]}"; do
    echo "== $preset: TF on the CPU (here) vs the port on the GPU"
    twinport parity compare "$work/tf-$preset.npz" "$back/gpu-$preset.npz" \
      --out "reports/gpu-check/tf-vs-gpu-$preset" || true
    echo "== $preset: the port on the CPU vs the port on the GPU"
    twinport parity compare "$back/cpu-$preset.npz" "$back/gpu-$preset.npz" \
      --out "reports/gpu-check/cpu-vs-gpu-$preset" || true
  done
  echo "== tiny: TF on the CPU vs the port on the GPU with TF32 allowed"
  twinport parity compare "$work/tf-tiny.npz" "$back/gpu-tf32-tiny.npz" \
    --out reports/gpu-check/tf-vs-gpu-tf32-tiny || true
  ;;
*)
  echo "usage: scripts/gpu_check.sh prepare | device | compare DIR" >&2
  exit 2
  ;;
esac
