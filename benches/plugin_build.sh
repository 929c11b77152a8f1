#!/usr/bin/env bash
# The clean release build of a fresh plugin crate outside the workspace, as a plugin author
# builds one: a crate holding one example plugin's src/lib.rs, depending on a benchy-core by path
# (and on serde/serde_json when the example uses them), built with an empty target directory.
# Prints the wall time and every crate the build compiled.
#
#   benches/plugin_build.sh [LIB_RS] [BENCHY_CORE_DIR]
#
# LIB_RS defaults to the example task backend (plugins/smoke/src/lib.rs); BENCHY_CORE_DIR to this
# repository's benchy-core (give an older checkout's to compare). The README reports the figures.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
lib=$(realpath "${1:-$root/plugins/smoke/src/lib.rs}")
core=$(realpath "${2:-$root/benchy-core}")
crate=$(mktemp -d)
trap 'rm -rf "$crate"' EXIT
mkdir "$crate/src"
# The example's own crate-level tests would need dev-dependencies: keep its code only.
sed '/^#\[cfg(test)\]/,$d' "$lib" > "$crate/src/lib.rs"
extra=""
grep -q 'serde::' "$crate/src/lib.rs" && extra+='serde = { version = "1", features = ["derive"] }'$'\n'
grep -q 'serde_json' "$crate/src/lib.rs" && extra+='serde_json = "1"'$'\n'
cat > "$crate/Cargo.toml" <<TOML
[package]
name = "fresh-plugin"
version = "0.1.0"
edition = "2024"

[lib]
crate-type = ["cdylib"]

[dependencies]
benchy-core = { path = "$core" }
$extra
[workspace]
TOML
# The lock of the workspace the core comes from, so both builds compile the same versions.
cp "$(dirname "$core")/Cargo.lock" "$crate/Cargo.lock" 2>/dev/null || true
cd "$crate"
start=$(date +%s.%N)
cargo build --release --offline --quiet
end=$(date +%s.%N)
echo "example: ${lib#"$root"/}"
echo "benchy-core: $core"
printf 'clean release build: %.1f s\n' "$(echo "$end - $start" | bc)"
echo "crates compiled: $(cargo tree -e normal,build --prefix none --offline | sed 's/ (\*)//' | sort -u | wc -l)"
cargo tree -e normal --prefix none --offline | sed 's/ (\*)//' | sort -u | tr '\n' ' '
echo
