#!/usr/bin/env python3
"""Check ops/grafana/redline.json without Grafana (not packaged for Debian):
its structure, and every query against a live scrape and a live Prometheus.

  check_dashboard.py DASHBOARD SCRAPE_FILE PROMETHEUS_URL

- structure: title, uid, schemaVersion, panels with unique ids, a known type,
  a gridPos inside the 24-column grid, and targets with refId and expr;
- every metric name an expr uses exists in the live scrape (histogram series
  by their _bucket/_sum/_count names);
- every expr runs through Prometheus' HTTP API without error ($__rate_interval,
  Grafana's variable, taken as 1m).
Exits 1 with every problem listed.
"""
import json
import re
import sys
import urllib.parse
import urllib.request

PANEL_TYPES = {"timeseries", "gauge", "stat", "state-timeline", "bargauge", "table", "text", "heatmap"}
FUNCTIONS = {"rate", "increase", "sum", "by", "histogram_quantile", "changes", "max", "min", "avg", "le", "without",
             "irate", "delta", "count", "topk", "on", "ignoring", "offset", "bool", "and", "or", "unless"}


def main():
    dashboard_path, scrape_path, prometheus = sys.argv[1:4]
    dashboard = json.load(open(dashboard_path))
    scrape = open(scrape_path).read()
    names = set()
    for line in scrape.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        names.add(re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line).group(0))
    problems = []
    for key in ("title", "uid", "schemaVersion", "panels"):
        if key not in dashboard:
            problems.append(f"dashboard: no {key}")
    ids = set()
    exprs = []
    for panel in dashboard.get("panels", []):
        where = f"panel {panel.get('id')} {panel.get('title')!r}"
        if panel.get("id") in ids:
            problems.append(f"{where}: duplicate id")
        ids.add(panel.get("id"))
        if panel.get("type") not in PANEL_TYPES:
            problems.append(f"{where}: unknown type {panel.get('type')!r}")
        if not panel.get("title"):
            problems.append(f"{where}: no title")
        grid = panel.get("gridPos", {})
        if not all(isinstance(grid.get(k), int) for k in "hwxy") or grid["x"] + grid["w"] > 24 or grid["w"] <= 0:
            problems.append(f"{where}: bad gridPos {grid}")
        targets = panel.get("targets") or []
        if not targets:
            problems.append(f"{where}: no targets")
        for target in targets:
            if not target.get("refId") or not target.get("expr"):
                problems.append(f"{where}: a target without refId or expr")
            else:
                exprs.append((where, target["expr"]))
    for annotation in dashboard.get("annotations", {}).get("list", []):
        if annotation.get("expr"):
            exprs.append((f"annotation {annotation.get('name')!r}", annotation["expr"]))
    for where, expr in exprs:
        # Grafana's own variable: what it stands for at a 15 s scrape interval.
        expr = expr.replace("$__rate_interval", "1m")
        stripped = re.sub(r'\{[^}]*\}|\[[^\]]*\]|"[^"]*"', "", expr)
        for token in re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", stripped):
            if token in FUNCTIONS or not token.startswith("redline_"):
                continue
            if token not in names:
                problems.append(f"{where}: {token} is not in the live scrape")
        url = prometheus + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        try:
            answer = json.load(urllib.request.urlopen(url, timeout=10))
            if answer.get("status") != "success":
                problems.append(f"{where}: Prometheus refused {expr!r}: {answer}")
        except Exception as error:  # an HTTP 400 is a bad query
            problems.append(f"{where}: Prometheus refused {expr!r}: {error}")
    for problem in problems:
        print("dashboard:", problem)
    print(f"dashboard: {len(dashboard.get('panels', []))} panels, {len(exprs)} queries checked, {len(problems)} problem(s)")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
