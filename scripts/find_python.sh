#!/usr/bin/env sh
# Prints the interpreter twinport's virtualenv is made from: $1 when given (make PYTHON=...),
# else the first of Python 3.12, 3.13, 3.11 that runs, on PATH or in pyenv's versions. Exits 1
# with one line naming what to install when there is none, or when it lacks venv/ensurepip.
usable() {
  "$1" -c 'import sys; sys.exit(not ((3, 11) <= sys.version_info[:2] <= (3, 13)))' 2>/dev/null
}
has_venv() {
  "$1" -c 'import venv, ensurepip' 2>/dev/null
}
pick() {
  if ! has_venv "$1"; then
    version=$("$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    echo "error: $1 (Python $version) has no venv/ensurepip: install python$version-venv (Debian, Ubuntu), or make PYTHON=/path/to/another/python" >&2
    exit 1
  fi
  command -v "$1" 2>/dev/null || echo "$1"
  exit 0
}
if [ -n "$1" ]; then
  usable "$1" && pick "$1"
  echo "error: PYTHON=$1 is not a runnable Python 3.11, 3.12 or 3.13" >&2
  exit 1
fi
root=$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")
for version in 3.12 3.13 3.11; do
  for candidate in "python$version" "$root"/versions/"$version".*/bin/"python$version"; do
    usable "$candidate" && pick "$candidate"
  done
done
echo "error: no Python 3.12, 3.13 or 3.11 found: install one (e.g. apt install python3.12 python3.12-venv), or make PYTHON=/path/to/python3.12" >&2
exit 1
