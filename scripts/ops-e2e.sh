#!/usr/bin/env bash
# The operations path end to end, with the real things: `redline serve`, a
# real Prometheus scraping it, promtool, and `redline ctl`.
#   1. promtool check metrics on a live scrape;
#   2. promtool check rules and promtool test rules (a test for every alert);
#   3. Prometheus scrapes serve; `redline ctl freeze` is issued; PromQL through
#      Prometheus' HTTP API must return freeze_triggered_total{reason="manual"} 1,
#      trading state HALTED (2) and the RedlineTradingHalted alert firing;
#      `redline ctl unfreeze` brings the state back to ACTIVE (0);
#   4. the dashboard's structure and every query (ops/grafana/check_dashboard.py);
#   5. SIGTERM: serve drains, syncs and exits 0; the journal replays HALTED-free.
# Usage: scripts/ops-e2e.sh [path/to/redline]   (default .build/release/redline)
set -euo pipefail
cd "$(dirname "$0")/.."
redline=${1:-.build/release/redline}
work=$(mktemp -d /tmp/rl-e2e.XXXXXX)
serve_pid=""; prom_pid=""
cleanup() {
    [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null || true
    [ -n "$prom_pid" ] && kill "$prom_pid" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "ops-e2e: FAILED: $*" >&2; for f in "$work"/*.log; do echo "--- $f"; tail -20 "$f"; done >&2; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
metrics_port=$(free_port)
prom_port=$(free_port)
socket="$work/ctl.sock"
export REDLINE_SOCKET="$socket" REDLINE_OPERATOR=ops-e2e

# serve's config: the example, with this run's ports, socket, journal and
# operator (bound to this uid).
"$redline" serve --print-example-config | python3 -c "
import json, os, sys
c = json.load(sys.stdin)
c['operations'].update(metricsPort=$metrics_port, controlSocketPath='$socket', operators=['ops-e2e'],
                       operatorUIDs={'ops-e2e': os.getuid()})
c['journal'] = {'directory': '$work/journal'}
json.dump(c, open('$work/serve.json', 'w'), indent=2)"
# A misspelt access setting is refused by name, not left off.
python3 -c "
import json
c = json.load(open('$work/serve.json'))
c['operations']['operatorUID'] = {'ops-e2e': 0}
json.dump(c, open('$work/misspelt.json', 'w'))"
if "$redline" serve --config "$work/misspelt.json" > "$work/misspelt.log" 2>&1; then fail "serve took a misspelt operations key"; fi
grep -q 'unknown key "operations.operatorUID"' "$work/misspelt.log" || fail "no clear refusal: $(cat "$work/misspelt.log")"
echo "a misspelt operations key is refused by name"
# helper-34: misspelt strategy and journal keys were ignored; a duplicate symbol and a price for no symbol taken.
for case in "strategy.ordersPerSec:c['strategy']['ordersPerSec']=5:unknown key \"strategy.ordersPerSec\"" \
            "journal.segmentBytes:c['journal']['segmentBytes']=1:unknown key \"journal.segmentBytes\"" \
            "symbols twice:c['symbols'].append(c['symbols'][0]):lists BTCUSDT twice" \
            "a price for no symbol:c['strategy']['prices']['XRPUSDT']=1:\"strategy.prices.XRPUSDT\" is for a symbol not in" \
            "an override for no symbol:c['limits']['symbolOverrides']=dict(NOPEUSDT=1000):\"limits.symbolOverrides\" names NOPEUSDT"; do
    name=${case%%:*}; rest=${case#*:}; edit=${rest%%:*}; expect=${rest#*:}
    python3 -c "
import json
c = json.load(open('$work/serve.json'))
$edit
json.dump(c, open('$work/bad.json', 'w'))"
    if "$redline" serve --config "$work/bad.json" > "$work/bad.log" 2>&1; then fail "serve took $name"; fi
    grep -qF "$expect" "$work/bad.log" || fail "$name: no clear refusal: $(cat "$work/bad.log")"
done
echo "misspelt strategy and journal keys, a symbol twice and a price for no symbol are refused by name"
# A key given twice: JSONSerialization keeps the last, JSONDecoder the first; refused.
sed 's/"operators"/"operatorUIDs": {}, "operatorUIDs": {}, "operators"/' "$work/serve.json" > "$work/twice.json"
if "$redline" serve --config "$work/twice.json" > "$work/twice.log" 2>&1; then fail "serve took a key given twice"; fi
grep -q 'key "operations.operatorUIDs" appears twice' "$work/twice.log" || fail "no clear refusal: $(cat "$work/twice.log")"
echo "a key given twice is refused by name"
# A uid that is no number a uid can be: named by its key (Foundation alone says "not valid JSON").
python3 -c "
import json
c = json.load(open('$work/serve.json'))
c['operations']['operatorUIDs'] = {'ops-e2e': -5}
json.dump(c, open('$work/uid.json', 'w'))"
if "$redline" serve --config "$work/uid.json" > "$work/uid.log" 2>&1; then fail "serve took a negative uid"; fi
grep -q '"operations.operatorUIDs.ops-e2e" cannot hold -5' "$work/uid.log" || fail "no clear refusal: $(cat "$work/uid.log")"
echo "a uid out of range is refused by its key"
"$redline" serve --config "$work/serve.json" > "$work/serve.log" 2>&1 &
serve_pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$metrics_port/metrics" > "$work/scrape.txt" && break; sleep 0.1; done
[ -s "$work/scrape.txt" ] || fail "serve's /metrics did not come up"
sleep 1
curl -sf "http://127.0.0.1:$metrics_port/metrics" > "$work/scrape.txt"

echo "--- promtool check metrics (a live scrape of redline serve: $(grep -vc '^#' "$work/scrape.txt") samples)"
promtool check metrics < "$work/scrape.txt" || fail "promtool check metrics"
echo "--- promtool check rules / test rules"
promtool check rules ops/prometheus/alerts.yml || fail "promtool check rules"
(cd ops/prometheus && promtool test rules alerts.test.yml) || fail "promtool test rules"

echo "--- Prometheus on 127.0.0.1:$prom_port scraping serve on :$metrics_port"
cat > "$work/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - $PWD/ops/prometheus/alerts.yml
scrape_configs:
  - job_name: redline
    static_configs:
      - targets: ['127.0.0.1:$metrics_port']
YAML
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
    --web.listen-address="127.0.0.1:$prom_port" > "$work/prometheus.log" 2>&1 &
prom_pid=$!
prom="http://127.0.0.1:$prom_port"
# One PromQL query's first value (or "none").
query() {
    curl -sf --get "$prom/api/v1/query" --data-urlencode "query=$1" | python3 -c '
import json, sys
r = json.load(sys.stdin)["data"]["result"]
print(r[0]["value"][1] if r else "none")'
}
wait_for() { # query expected seconds
    for _ in $(seq $(( $3 * 4 ))); do
        [ "$(query "$1" 2>/dev/null || echo none)" = "$2" ] && return 0
        sleep 0.25
    done
    fail "$1 is $(query "$1" 2>/dev/null || echo none), expected $2"
}
wait_for 'up{job="redline"}' 1 30
wait_for 'redline_trading_state' 0 10
echo "up{job=\"redline\"} = 1, redline_trading_state = 0"

echo "--- redline ctl freeze"
"$redline" ctl freeze --reason "ops-e2e drill" || fail "ctl freeze"
wait_for 'redline_freeze_triggered_total{reason="manual"}' 1 15
wait_for 'redline_trading_state' 2 15
wait_for 'ALERTS{alertname="RedlineTradingHalted",alertstate="firing"}' 1 15
echo "PromQL: redline_freeze_triggered_total{reason=\"manual\"} = 1, redline_trading_state = 2 (HALTED), RedlineTradingHalted firing"
"$redline" ctl status | head -2
echo "--- redline ctl unfreeze"
"$redline" ctl unfreeze --reason "ops-e2e drill over" || fail "ctl unfreeze"
wait_for 'redline_trading_state' 0 15
wait_for 'redline_unfreeze_total' 1 15
echo "PromQL: redline_trading_state = 0 (ACTIVE) again"
if "$redline" ctl --help >/dev/null && REDLINE_OPERATOR=intruder "$redline" ctl freeze --reason x 2> "$work/refused.txt"; then
    fail "an unknown operator was obeyed"
fi
grep -q 'unknown operator "intruder"' "$work/refused.txt" || fail "no clear refusal: $(cat "$work/refused.txt")"
[ "$(query 'redline_trading_state')" = 0 ] || fail "a refused command changed the state"
echo "an unknown operator is refused (exit 1), and the state is unchanged"
# The connection options before the subcommand, as the README's quick start writes them.
if "$redline" ctl --operator intruder freeze --reason x 2> "$work/refused2.txt"; then
    fail "ctl --operator before the subcommand was not taken: the freeze ran as the default operator"
fi
grep -q 'unknown operator "intruder"' "$work/refused2.txt" || fail "no clear refusal: $(cat "$work/refused2.txt")"
[ "$(query 'redline_trading_state')" = 0 ] || fail "a refused command changed the state"
echo "ctl --operator before the subcommand is the operator the endpoint sees"

echo "--- the dashboard against the live scrape and Prometheus"
curl -sf "http://127.0.0.1:$metrics_port/metrics" > "$work/scrape.txt"
python3 ops/grafana/check_dashboard.py ops/grafana/redline.json "$work/scrape.txt" "$prom" || fail "dashboard"

echo "--- SIGTERM: serve drains, syncs the journal, exits 0"
kill -TERM "$serve_pid"
status=0; wait "$serve_pid" || status=$?
serve_pid=""
[ "$status" = 0 ] || fail "serve exited $status on SIGTERM"
grep "redline serve: stopped" "$work/serve.log"
"$redline" journal inspect "$work/journal" > "$work/inspect.txt" || fail "journal inspect after shutdown"
echo "ops-e2e: ok"
