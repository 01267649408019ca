#!/usr/bin/env bash
# Requests and bytes (from nginx's access log) of a cold point lookup on compacted
# org.Hs.eg.sqlite with its .dbi, read by URL with a shared disk cache (issue 13):
# one process on an empty cache, a second process, and 16 processes started together on an
# empty cache; then a verified download of the published file; then the lookup's time without
# and with a warm cache through tests/web/delay_proxy.py (50 ms each way, median of 3).
#
#   bash bench/web_cache.sh [SOURCE.sqlite]     (default bench/data/org.Hs.eg.sqlite)
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SRC="${1:-$REPO/bench/data/org.Hs.eg.sqlite}"
BIN="$REPO/target/release/genomicsqlite"
[ -f "$SRC" ] || { echo "no $SRC (bash bench/fetch_data.sh)" >&2; exit 1; }
WORK="$(mktemp -d /tmp/gsq-web-cache-bench.XXXXXX)"
eval "$(bash "$REPO/tests/web/nginx.sh" start "$WORK" --ttl 900 | sed 's/^/NGX_/')"
PROXY_PID=""
trap '[ -z "$PROXY_PID" ] || kill "$PROXY_PID" 2>/dev/null; bash "$REPO/tests/web/nginx.sh" stop "$NGX_PREFIX" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
mkdir -p "$WORK/src"
"$BIN" "$SRC" --compact -q -o "$WORK/src/org.gsq"
"$BIN" "$WORK/src/org.gsq" --publish "$WORK" --source "$SRC" -q
URL="$NGX_URL/org.gsq"
Q="SELECT g._id, i.symbol, i.gene_name FROM genes AS g JOIN gene_info AS i ON i._id = g._id WHERE g.gene_id = '7157'"
count() { awk '{n++; b+=$2} END {printf "%d requests, %d bytes\n", n, b}' "$NGX_ACCESS_LOG"; }
run() { : > "$NGX_ACCESS_LOG"; "$@"; sleep 0.3; count; }
lookup() { SQLITE_WEB_CACHE_DIR="$1" "$BIN" "$URL" "$Q" >/dev/null; }
sixteen() { for _ in $(seq 16); do lookup "$1" & done; wait; }
echo "point lookup, no cache:                 $(run lookup '')"
echo "point lookup, first process, cache:     $(run lookup "$WORK/c1")"
echo "point lookup, second process, cache:    $(run lookup "$WORK/c1")"
echo "point lookup, 16 processes, empty cache: $(run sixteen "$WORK/c16")"
echo "download -@ 4 (verified):               $(run "$BIN" "$URL" --download -q -o "$WORK/dl.gsq")"
cmp -s "$WORK/dl.gsq" "$WORK/org.gsq" && echo "downloaded file identical to the published one"
python3 "$REPO/tests/web/delay_proxy.py" --target "$NGX_PORT" --delay-ms 50 --ttl 600 >"$WORK/proxy.out" 2>/dev/null &
PROXY_PID=$!
for _ in $(seq 50); do grep -q READY "$WORK/proxy.out" 2>/dev/null && break; sleep 0.1; done
URL="http://127.0.0.1:$(sed -n 's/^PORT=//p' "$WORK/proxy.out")/org.gsq"
seconds() { local t0; t0=$(date +%s.%N); "$@"; printf "%.2f\n" "$(echo "$(date +%s.%N) - $t0" | bc)"; }
median3() { for _ in 1 2 3; do seconds "$@"; done | sort -n | sed -n 2p; }
lookup "$WORK/c50"  # fill the cache
echo "point lookup over 50 ms each way, no cache:   $(median3 lookup '') s"
echo "point lookup over 50 ms each way, warm cache: $(median3 lookup "$WORK/c50") s"
