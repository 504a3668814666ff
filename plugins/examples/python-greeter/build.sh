#!/bin/sh
# Build py-greeter.wasm from app.py with componentize-py (pip install -r requirements.txt).
# Usage: ./build.sh [OUTPUT]   (default: <repo>/target/examples/py-greeter.wasm)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
out=${1:-$repo/target/examples/py-greeter.wasm}
case $out in /*) ;; *) out=$PWD/$out ;; esac
mkdir -p "$(dirname "$out")"
# Build from a scratch copy: componentize-py's pre-init writes __pycache__ next
# to app.py, and host/build.rs reruns whenever anything under plugins/ changes.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$here/app.py" "$work/"
cd "$work"
componentize-py -d "$repo/wit" -w step-plugin componentize app -o "$out"
echo "built $out ($(wc -c < "$out") bytes)"
