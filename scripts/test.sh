#!/usr/bin/env bash
# Runs every test on a fresh machine: formatting and clippy (warnings are errors), Rust unit and
# integration tests (including the in-process gRPC server), then builds the Python wheel with maturin,
# installs it into .venv and runs pytest against it, with a grpcio client talking to a real
# cptkit-server and the cptkit CLI judging the same claims.
set -euo pipefail
cd "$(dirname "$0")/.."

venv="${CPTKIT_VENV:-.venv}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r python/requirements-dev.txt

echo "== cargo fmt --check"
cargo fmt --all --check

echo "== cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== cargo test"
cargo test --workspace --locked

# `cargo test` built the cptkit-server and cptkit binaries (their crates have integration tests)
# with the workspace's features; a separate `cargo build -p` would resolve other features and
# compile every dependency a second time.
target_dir="${CARGO_TARGET_DIR:-$PWD/target}"  # where cargo put the binaries
export CPTKIT_SERVER_BIN="$target_dir/debug/cptkit-server"
export CPTKIT_CLI_BIN="$target_dir/debug/cptkit"
for bin in "$CPTKIT_SERVER_BIN" "$CPTKIT_CLI_BIN"; do
  if [ ! -x "$bin" ]; then
    echo "cargo test did not leave $bin: the Python gRPC and one-judge tests need it" >&2
    exit 1
  fi
done

echo "== wheel (maturin, from python/pyproject.toml)"
py="$(cd "$venv" && pwd)/bin/python"  # absolute: the steps below change directory
rm -rf target/wheels
# For this interpreter: the module is built per CPython version (crates/cptkit-py/README.md).
(cd python && "$py" -m maturin build --locked --release --interpreter "$py" --out ../target/wheels --quiet)
wheels=(target/wheels/cptkit-*.whl)
if [ "${#wheels[@]}" -ne 1 ] || [ ! -f "${wheels[0]}" ]; then
  echo "expected one cptkit wheel in target/wheels, found: ${wheels[*]}" >&2
  exit 1
fi
"$py" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps "${wheels[0]}"

echo "== pytest (against the installed wheel, from outside the source package)"
cd python/tests
"$py" -m pytest -q -p no:cacheprovider --import-mode=importlib .
