#!/usr/bin/env bash
# Draw docs/dashboard.png from a real run: redline serve, a real Prometheus
# scraping it every second, and an operator's session with redline ctl
# (tighter limits, a freeze, an unfreeze). Needs matplotlib (pip install
# matplotlib). Usage: scripts/dashboard-picture.sh [path/to/redline] [out.png]
set -euo pipefail
cd "$(dirname "$0")/.."
redline=${1:-.build/release/redline}
out=${2:-docs/dashboard.png}
work=$(mktemp -d /tmp/rl-pic.XXXXXX)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
mport=$(free_port); pport=$(free_port)
export REDLINE_SOCKET="$work/ctl.sock" REDLINE_OPERATOR=alice
"$redline" serve --print-example-config | python3 -c "
import json, sys
c = json.load(sys.stdin)
c['operations'].update(metricsPort=$mport, controlSocketPath='$work/ctl.sock', operators=['alice'])
c['journal'] = {'directory': '$work/journal'}
c['strategy']['ordersPerSecond'] = 20000
json.dump(c, open('$work/serve.json', 'w'))"
"$redline" serve --config "$work/serve.json" > "$work/serve.log" 2>&1 & pids+=($!)
cat > "$work/prometheus.yml" <<YAML
global: {scrape_interval: 1s, evaluation_interval: 1s}
rule_files: ['$PWD/ops/prometheus/alerts.yml']
scrape_configs: [{job_name: redline, static_configs: [{targets: ['127.0.0.1:$mport']}]}]
YAML
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
    --web.listen-address="127.0.0.1:$pport" > "$work/prometheus.log" 2>&1 & pids+=($!)
start=$(date +%s)
sleep 20; "$redline" ctl limits set --reason "tighter for the afternoon" maxInventoryUSD=60000
sleep 15; "$redline" ctl freeze --reason "venue incident"
sleep 10; "$redline" ctl unfreeze --reason "venue back"
sleep 10; "$redline" ctl limits set --reason "back to normal" maxInventoryUSD=250000
sleep 15
end=$(date +%s)
python3 ops/grafana/render_panels.py "http://127.0.0.1:$pport" "$start" "$end" "$out"
