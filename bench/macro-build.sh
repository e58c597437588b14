#!/usr/bin/env bash
# Build cost of the attributes: `cargo check` of a crate with N secured handlers (#[secure] +
# rampart::Router) against the same crate with plain axum handlers + #[utoipa::path] (the
# baseline the macros issue names). Both crates are generated under target/bench-macro-build and
# share the workspace target directory, so dependencies are checked once (warm-up) and each
# measured run re-checks only the generated crate. Rounds alternate A B A B ...
#
#   bench/macro-build.sh [HANDLERS=200] [ROUNDS=5]
#
# CARGO_INCREMENTAL=0 (the default here) re-checks the whole crate each round, as a fresh CI
# checkout does; CARGO_INCREMENTAL=1 measures an edit-check loop.
set -euo pipefail
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
cd "$(dirname "$0")/.."
root=$(pwd)
handlers=${1:-200}
rounds=${2:-5}
out="$root/target/bench-macro-build"
export CARGO_TARGET_DIR="$root/target/bench-macro-build/target"
mkdir -p "$out/rampart/src" "$out/utoipa/src"

manifest() { # name, deps
  cat <<TOML
[package]
name = "$1"
version = "0.0.0"
edition = "2024"
publish = false

[workspace]

[dependencies]
axum = { version = "0.8.9", features = ["macros"] }
serde = { version = "1", features = ["derive"] }
$2
TOML
}
manifest bench-rampart "rampart = { path = \"$root/runtime\" }
garde = { version = \"0.23.0\", features = [\"derive\", \"serde\"] }
utoipa = \"6.0.0\"" > "$out/rampart/Cargo.toml"
manifest bench-utoipa 'utoipa = { version = "6.0.0", features = ["axum_extras"] }' > "$out/utoipa/Cargo.toml"

{
  echo 'use axum::extract::Path;'
  echo 'use rampart::auth::Principal;'
  echo 'use rampart::extract::Json;'
  echo 'use rampart::{Router, secure};'
  echo '#[derive(serde::Deserialize, garde::Validate, utoipa::ToSchema)] pub struct Body { #[garde(length(min = 1))] pub title: String }'
  for i in $(seq 1 "$handlers"); do
    cat <<RS
/// Handler $i.
#[secure(post, path = "/r$i/{id}", scope = "scope:$i", rate = "10/min")]
async fn h$i(user: Principal, Path(id): Path<u64>, Json(body): Json<Body>) -> String {
    format!("{} {} {}", user.subject(), id, body.title)
}
RS
  done
  echo 'pub fn router() -> Router {'
  echo '    Router::new()'
  for i in $(seq 1 "$handlers"); do echo "        .mount(h$i)"; done
  echo '}'
} > "$out/rampart/src/lib.rs"

{
  echo 'use axum::extract::Path;'
  echo 'use axum::{Json, Router, routing::post};'
  echo '#[derive(serde::Deserialize, utoipa::ToSchema)] pub struct Body { pub title: String }'
  for i in $(seq 1 "$handlers"); do
    cat <<RS
/// Handler $i.
#[utoipa::path(post, path = "/r$i/{id}", params(("id" = u64, Path)), request_body = Body, responses((status = 200, body = String)), security(("bearer" = ["scope:$i"])))]
async fn h$i(Path(id): Path<u64>, Json(body): Json<Body>) -> String {
    format!("{} {}", id, body.title)
}
RS
  done
  echo 'pub fn router() -> Router {'
  echo '    Router::new()'
  for i in $(seq 1 "$handlers"); do echo "        .route(\"/r$i/{id}\", post(h$i))"; done
  echo '}'
} > "$out/utoipa/src/lib.rs"

check() { # dir -> seconds of one `cargo check` after touching the crate
  touch "$1/src/lib.rs"
  local start end
  start=$(date +%s.%N)
  (cd "$1" && cargo check -q)
  end=$(date +%s.%N)
  awk -v s="$start" -v e="$end" 'BEGIN { printf "%.3f\n", e - s }' 
}

echo "warming up (dependencies are checked once)..." >&2
(cd "$out/rampart" && cargo check -q)
(cd "$out/utoipa" && cargo check -q)

a=(); b=()
for r in $(seq 1 "$rounds"); do
  a+=("$(check "$out/rampart")")
  b+=("$(check "$out/utoipa")")
  echo "round $r: rampart ${a[-1]} s, axum+utoipa ${b[-1]} s" >&2
done
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
ma=$(median "${a[@]}"); mb=$(median "${b[@]}")
ratio=$(awk -v a="$ma" -v b="$mb" 'BEGIN { printf "%.2f", a / b }')
echo "handlers=$handlers rounds=$rounds incremental=$CARGO_INCREMENTAL rampart_median_s=$ma axum_utoipa_median_s=$mb ratio=$ratio"
