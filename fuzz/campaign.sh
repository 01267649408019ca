#!/usr/bin/env bash
# fuzz/campaign.sh -- a long fuzzing campaign: every target for SECONDS (default 3600) in turn,
# each with its growing corpus in fuzz/corpus/TARGET (seeded from fuzz/seeds/TARGET); prints
# executions and findings per target (a finding's input is kept in fuzz/artifacts/TARGET/).
#
#   bash fuzz/campaign.sh [SECONDS] [TARGET...]
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
secs="${1:-3600}"
shift || true
targets=("$@")
[ "${#targets[@]}" -gt 0 ] || targets=(page_decode dbi_verify http_response config_uri)
for t in "${targets[@]}"; do
    before=$(ls "$here/artifacts/$t" 2>/dev/null | wc -l)
    line="$(nice -n 19 bash "$here/run.sh" "$t" "$secs" | head -n 1)"
    after=$(ls "$here/artifacts/$t" 2>/dev/null | wc -l)
    echo "$line; findings: $((after - before)); corpus: $(ls "$here/corpus/$t" | wc -l) inputs"
done
