"""Prints one bench run (scripts/bench) as a Markdown table: ours beside the NIO
floor, the ratios, and which of the performance issue's targets are met."""
import json
import pathlib
import sys

run = pathlib.Path(sys.argv[1])


def load(name):
    path = run / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else {}


floor50, ours50 = load("floor-fanout-50k"), load("chatroom-fanout-50k")
floormax, oursmax = load("floor-fanout-max"), load("chatroom-fanout-max")
full50 = load("chatroom-sync-full-fanout-50k")
storm, idle = load("chatroom-connect-storm"), load("chatroom-idle")


def cpu(result):
    if "server_user_us_per_delivery" not in result:
        return None
    return result["server_user_us_per_delivery"] + result["server_system_us_per_delivery"]


def fmt(value, digits=2):
    return "n/a" if value is None else f"{value:,.{digits}f}"


def verdict(ok):
    return "n/a" if ok is None else ("met" if ok else "not met")


print("| measure (1 room × 100 members, 10 senders; server on one core, client on another) | chatroom | floor | ratio | target | |")
print("|---|---|---|---|---|---|")
c, f = cpu(ours50), cpu(floor50)
ratio = c / f if c and f else None
print(f"| 50,000 deliveries/s: server CPU per delivery (µs) | {fmt(c)} | {fmt(f)} | {fmt(ratio)}× | ≤ 1.3× floor | {verdict(ratio <= 1.3 if ratio else None)} |")
u, fu = ours50.get("server_user_us_per_delivery"), floor50.get("server_user_us_per_delivery")
print(f"| 50,000 deliveries/s: user CPU per delivery (µs) | {fmt(u)} | {fmt(fu)} | | ≤ 1.5 µs | {verdict(u <= 1.5 if u is not None else None)} |")
s, fs = ours50.get("server_system_us_per_delivery"), floor50.get("server_system_us_per_delivery")
print(f"| 50,000 deliveries/s: system CPU per delivery (µs) | {fmt(s)} | {fmt(fs)} | | | |")
p50, p99 = ours50.get("latency_ms_p50"), ours50.get("latency_ms_p99")
print(f"| 50,000 deliveries/s: latency p50 / p99 (ms) | {fmt(p50)} / {fmt(p99)} | {fmt(floor50.get('latency_ms_p50'))} / {fmt(floor50.get('latency_ms_p99'))} | | p99 ≤ 5 ms | {verdict(p99 <= 5 if p99 is not None else None)} |")
m, fm = oursmax.get("deliveries_per_second"), floormax.get("deliveries_per_second")
mr = m / fm if m and fm else None
print(f"| flat out: deliveries/s | {fmt(m, 0)} | {fmt(fm, 0)} | {fmt(mr)}× | ≥ 0.7× floor | {verdict(mr >= 0.7 if mr else None)} |")
print(f"| flat out: server CPU per delivery (µs) | {fmt(cpu(oursmax))} | {fmt(cpu(floormax))} | | | |")
cps, cpc = storm.get("connects_per_second"), storm.get("server_cpu_us_per_connect")
print(f"| authenticated connects per second | {fmt(cps, 0)} | | | ≥ 5,000 | {verdict(cps >= 5000 if cps else None)} |")
cpc_ms = cpc / 1000 if cpc is not None else None
print(f"| server CPU per connect (ms) | {fmt(cpc_ms, 3)} | | | ≤ 0.15 ms | {verdict(cpc_ms <= 0.15 if cpc_ms is not None else None)} |")
rss = idle["rss_bytes_per_connection"] / 1024 if "rss_bytes_per_connection" in idle else None
print(f"| idle connections: server RSS per connection (KB) | {fmt(rss, 1)} | | | ≤ 12 KB | {verdict(rss <= 12 if rss is not None else None)} |")
fc = cpu(full50)
extra = fc - c if fc is not None and c is not None else None
print(f"| `--sync full` at 50,000 deliveries/s: CPU per delivery (µs) | {fmt(fc)} | | | stated | +{fmt(extra)} µs per delivery, +{fmt(extra * 100 if extra is not None else None)} µs per message |")
