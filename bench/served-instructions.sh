#!/usr/bin/env bash
# Instructions of a notes binary serving N keep-alive GET requests of PATH under rampart::serve
# (the connection watch, the send deadline's bookkeeping, hyper), counted by callgrind over the
# whole process: run it with N and with 0, and (count(N) - count(0)) / N is one request's cost.
#
#   bench/served-instructions.sh BINARY N PATH     e.g. target/release/notes 5000 /health
#
# Needs valgrind and ab (Debian's valgrind and apache2-utils).
set -euo pipefail
bin=$1; n=$2; path=$3
log=$(mktemp); out=$(mktemp)
RAMPART_ADDR=127.0.0.1:0 RAMPART_JWT_SECRET=bench-secret-0123456789abcdef0123456789 DATABASE_URL=sqlite::memory: \
  RAMPART_METRICS_ADDR=off RAMPART_AUDIT_LOG=/dev/null \
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" >/dev/null 2>"$log" &
pid=$!
for _ in $(seq 600); do grep -q "listening on" "$log" && break; sleep 0.1; done
addr=$(sed -n 's/.*notes listening on http:\/\/\([^ ]*\).*/\1/p' "$log" | head -1)
if [ "$n" -gt 0 ]; then ab -q -k -n "$n" -c 4 "http://$addr$path" > "$out" 2>&1 || true; fi
kill -INT $pid; wait $pid 2>/dev/null || true
sed -n 's/.*refs: *\([0-9,]*\).*/\1/p' "$log" | tr -d ,
