#!/usr/bin/env bash
# Runs every test on a fresh machine: Rust unit and integration tests (including the in-process gRPC
# server), then builds the Python wheel with maturin, installs it into .venv and runs pytest against
# it, with a grpcio client talking to a real cptkit-server.
set -euo pipefail
cd "$(dirname "$0")/.."

venv="${CPTKIT_VENV:-.venv}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r python/requirements-dev.txt

echo "== cargo test"
cargo test --workspace --locked

echo "== cptkit-server binary for the Python gRPC tests"
cargo build --locked -p cptkit-server --bin cptkit-server

echo "== wheel"
rm -rf target/wheels
"$venv/bin/maturin" build --locked --release --manifest-path crates/cptkit-py/Cargo.toml \
  --out target/wheels --quiet 2>&1 | grep -v '^📦\|^🔗\|^🐍' || true
"$venv/bin/python" -m pip install --quiet --force-reinstall --no-deps target/wheels/cptkit-*.whl

echo "== pytest (against the installed wheel)"
export CPTKIT_SERVER_BIN="$PWD/target/debug/cptkit-server"
cd python/tests
"../../$venv/bin/python" -m pytest -q -p no:cacheprovider --import-mode=importlib .
