#!/usr/bin/env python3
"""Draw the dashboard's key panels from a real Prometheus, as a PNG for the
README (Grafana is not packaged for Debian here). The queries are the
dashboard's own (ops/grafana/redline.json), over the given window.

  render_panels.py PROMETHEUS_URL START END OUT.png
"""
import json
import sys
import urllib.parse
import urllib.request

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

PANELS = [  # (dashboard panel title, how to draw it)
    ("Trading state (freeze timeline)", "state"),
    ("Inventory utilization per symbol", "lines"),
    ("Orders per second", "lines"),
    ("Blocked orders per second, by reason", "lines"),
    ("Pre-order check latency", "latency"),
    ("Journal: syncs and records per second", "lines"),
]


def query_range(prometheus, expr, start, end, step):
    url = prometheus + "/api/v1/query_range?" + urllib.parse.urlencode(
        {"query": expr, "start": start, "end": end, "step": step})
    return json.load(urllib.request.urlopen(url, timeout=30))["data"]["result"]


def legend(fmt, labels):
    out = fmt
    for key, value in labels.items():
        out = out.replace("{{" + key + "}}", value)
    return out


def main():
    prometheus, start, end, out = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
    dashboard = json.load(open(__file__.rsplit("/", 1)[0] + "/redline.json"))
    by_title = {p["title"]: p for p in dashboard["panels"]}
    step = max(1, int((end - start) / 300))
    fig, axes = plt.subplots(len(PANELS), 1, figsize=(11, 2.3 * len(PANELS)), sharex=True)
    for ax, (title, kind) in zip(axes, PANELS):
        panel = by_title[title]
        for target in panel["targets"]:
            expr = target["expr"].replace("$__rate_interval", "10s")  # Grafana's variable, at a 1 s scrape
            for series in query_range(prometheus, expr, start, end, step):
                xs = [float(t) - start for t, _ in series["values"]]
                ys = [float(v) for _, v in series["values"]]
                if kind == "latency":
                    ys = [y * 1e9 for y in ys]
                label = legend(target.get("legendFormat", ""), series["metric"])
                if kind == "state":
                    ax.fill_between(xs, ys, step="post", alpha=0.4, color="tab:red")
                    ax.step(xs, ys, where="post", color="tab:red", label="trading_state")
                    ax.set_yticks([0, 1, 2], ["ACTIVE", "REDUCING", "HALTED"])
                else:
                    ax.plot(xs, ys, label=label)
        ax.set_title(title, fontsize=10, loc="left")
        if kind == "latency":
            ax.set_ylabel("ns")
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, loc="upper right", ncol=4)
    axes[-1].set_xlabel("seconds into the run")
    fig.suptitle("Redline dashboard, key panels (a real scrape of redline serve by Prometheus)", fontsize=11)
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
