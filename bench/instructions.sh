#!/usr/bin/env bash
# Instructions per request of each benchmarked variant, counted by callgrind (exact and
# repeatable, unlike times on a shared machine): the `profile` driver warms every subject up,
# then sends N requests through the router in process; callgrind counts only inside the measured
# loop (`--toggle-collect`), so start-up and first requests are left out, and the count divided
# by N is the cost of one request.
#
#   bench/instructions.sh [N] [VARIANT...]     (default N = 2000, every variant)
#
# Needs valgrind (Debian's package). Builds the driver in release mode first.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-2000}
shift || true
variants=("$@")
[ ${#variants[@]} -gt 0 ] || variants=(plain-get public-get secure-get hand-get plain-post secure-post secure-get-cold hand-get-cold)
cargo build --release -p bench --bin profile >/dev/null
count() {
  valgrind --tool=callgrind --callgrind-out-file=/dev/null --toggle-collect='profile::measured' \
    target/release/profile "$1" "$2" 2>&1 | sed -n 's/.*refs: *\([0-9,]*\).*/\1/p' | tr -d ,
}
printf '| variant | instructions per request |\n|---|---|\n'
for variant in "${variants[@]}"; do
  printf '| %s | %d |\n' "$variant" $(($(count "$variant" "$n") / n))
done
