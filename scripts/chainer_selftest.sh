#!/usr/bin/env bash
# Chainer 7.8.1's own CPU tests for what the ports use, on this stack, through chainer_port.compat.
#   make chainer-selftest CHAINER_SRC=/path/to/chainer   (a checkout of chainer/chainer at v7.8.1)
# Extra arguments go to pytest (e.g. -x, -k conv). Writes $CHAINER_SRC/selftest-*.log and .xml and
# prints pytest's counts; docs/stack.md has the measured counts and every failure explained.
set -euo pipefail
src=${1:?usage: scripts/chainer_selftest.sh CHAINER_SRC [pytest args]}
shift
py=${PY:-.venv/bin/python}
py=$(cd "$(dirname "$py")" && pwd)/$(basename "$py")
[ -d "$src/tests/chainer_tests" ] || { echo "error: $src has no tests/chainer_tests (a chainer/chainer checkout at v7.8.1 is needed)"; exit 2; }
t=tests/chainer_tests
paths=(
  $t/functions_tests/activation_tests $t/functions_tests/array_tests
  $t/functions_tests/connection_tests $t/functions_tests/loss_tests
  $t/functions_tests/math_tests $t/functions_tests/noise_tests
  $t/functions_tests/normalization_tests $t/functions_tests/pooling_tests
  $t/functions_tests/rnn_tests
  $t/links_tests/connection_tests $t/links_tests/normalization_tests $t/links_tests/rnn_tests
  $t/initializer_tests $t/optimizers_tests $t/serializers_tests
)
cd "$src"
# iDeep has no build past Python 3.8 and ChainerX is not in the PyPI sdist: deselected, with the
# GPU, cuDNN and slow markers. The compatibility module is imported at interpreter start (a
# sitecustomize.py, so in pytest-xdist's workers too): pytest imports chainer already when it
# reads the warning filters of Chainer's setup.cfg, before any plugin or conftest.
site=$(mktemp -d)
trap 'rm -rf "$site"' EXIT
# The compatibility module is imported at interpreter start (a sitecustomize.py): pytest imports
# chainer already when it reads the warning filters of Chainer's setup.cfg, before any plugin.
echo 'import chainer_port.compat, chainer  # noqa' > "$site/sitecustomize.py"
# Chainer names some tests after lambdas and random arrays, so pytest-xdist's workers disagree
# on the collection: the folders are split between JOBS plain pytest processes instead.
jobs=${JOBS:-2}
pids=()
for ((part = 0; part < jobs; part++)); do
  mine=()
  for ((i = part; i < ${#paths[@]}; i += jobs)); do mine+=("${paths[i]}"); done
  PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}" "$py" -m pytest -p no:cacheprovider -q \
    -m "not gpu and not cudnn and not slow and not ideep and not chainerx and not theano" \
    -k "not use_ideep_always and not chainerx_true" \
    --junitxml="selftest-$part.xml" "${mine[@]}" "$@" > "selftest-$part.log" 2>&1 &
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
for ((part = 0; part < jobs; part++)); do
  echo "== part $part: $(tail -n 1 "selftest-$part.log")"
done
echo "logs: $src/selftest-*.log; JUnit: $src/selftest-*.xml"
exit $status
