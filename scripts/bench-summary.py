"""Prints ours / baseline for every scenario of one bench run, as a Markdown table."""
import json
import pathlib
import sys

run = pathlib.Path(sys.argv[1])


def load(label, name):
    path = run / f"{label}-{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


rows = []


def row(metric, ours, base, target=None, better="higher"):
    ratio = ""
    if isinstance(ours, (int, float)) and isinstance(base, (int, float)) and base:
        ratio = f"{ours / base:.2f}x"
    fmt = lambda v: f"{v:,.2f}" if isinstance(v, float) and v < 100 else (f"{v:,.0f}" if isinstance(v, (int, float)) else "n/a")
    rows.append(f"| {metric} | {fmt(ours)} | {fmt(base)} | {ratio} | {target or ''} |")


for name, title in [("fanout-max", "flat out"), ("fanout-half", "half the max rate"), ("fanout-100k", "100,000 deliveries/s offered")]:
    ours, base = load("chatroom", name), load("baseline", name)
    if not ours or not base:
        continue
    row(f"{title}: deliveries/s", ours["deliveries_per_second"], base["deliveries_per_second"],
        "≥ 250,000 and ≥ 0.6x" if name == "fanout-max" else None)
    row(f"{title}: messages stored/s", ours["stored_per_second"], base["stored_per_second"])
    row(f"{title}: p99 latency (ms)", ours["latency_ms"]["p99"], base["latency_ms"]["p99"],
        "< 20 ms" if name == "fanout-half" else None, "lower")
    row(f"{title}: p50 latency (ms)", ours["latency_ms"]["p50"], base["latency_ms"]["p50"])
    row(f"{title}: server CPU per delivery (µs)", ours["server_cpu_us_per_delivery"], base["server_cpu_us_per_delivery"],
        "≤ 2 µs and ≤ 1.3x" if name == "fanout-100k" else None, "lower")
ours, base = load("chatroom", "connect-storm"), load("baseline", "connect-storm")
if ours and base:
    row("connects/s", ours["connects_per_second"], base["connects_per_second"], "≥ 2,000")
ours, base = load("chatroom", "idle"), load("baseline", "idle")
if ours and base:
    row("idle connections held", ours["connections"], base["connections"], "10,000")
    row("server RSS per idle connection (KB)", ours["rss_bytes_per_connection"] / 1024, base["rss_bytes_per_connection"] / 1024, "< 20 KB", "lower")

print("| scenario | chatroom | baseline | ours / baseline | target |")
print("|---|---|---|---|---|")
print("\n".join(rows))
