"""The tables of a ``make bench`` run: appended to the run history
(``docs/benchmarks-history.md``) and written over the latest run's in
``docs/benchmarks.md``, between two markers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

LATEST_BEGINS = "<!-- latest run: written by make bench (bench/markdown.py) -->"
LATEST_ENDS = "<!-- end of the latest run -->"


def record_run(report: dict[str, Any], *, latest: Path, history: Path) -> None:
    """Append the run's tables to ``history``; put them in ``latest`` in place of the
    previous run's (between the markers; at the end, with them, if they are missing)."""
    tables = run_tables(report)
    with history.open("a") as handle:
        handle.write("\n" + tables)
    text = latest.read_text()
    block = f"{LATEST_BEGINS}\n\n{tables}\n{LATEST_ENDS}"
    if LATEST_BEGINS in text and LATEST_ENDS in text:
        head, rest = text.split(LATEST_BEGINS, 1)
        tail = rest.split(LATEST_ENDS, 1)[1]
        text = head + block + tail
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    latest.write_text(text)


def run_tables(report: dict[str, Any]) -> str:
    """The run's heading and tables, in Markdown."""
    m = report["machine"]
    lines = [
        f"### Run of {report['when']}",
        "",
        f"{m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB; Python {m['python']}, "
        f"{m['postgres']}, Redis {m['redis']}; servers: uvicorn, {m['server_workers']} "
        f"workers; load: wrk {m['wrk']} for 10 s per endpoint. The whole run took "
        f"{report['seconds']:.0f} s.",
        "",
        "| figure | target | measured | met |",
        "| --- | --- | --- | --- |",
    ]
    for key, target in report["targets"].items():
        met = "yes" if target["met"] else "**no**"
        lines.append(f"| `{key}` | {target['target']} | {target['value']:,} | {met} |")
    if "waiting_fans_per_box" in report:
        lines += [
            "",
            f"`waiting_fans_per_box`: {report['waiting_fans_per_box']:,} waiting fans, each "
            "polling every `poll_after_seconds` of its position, poll "
            f"{report['waiting_fans_polls_per_second']:,.0f} times a second, the rate "
            "`queue_status` measured (the arithmetic is under Targets, above).",
        ]
    lines += [
        "",
        "| endpoint | req/s | p50 ms | p99 ms | failures | wrk CPU share "
        "| server CPU µs/req | Redis + PostgreSQL CPU µs/req |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    rows = {f"ceiling `{k}`": v for k, v in report["ceilings"].items()}
    rows |= {f"`{k}`": v for k, v in report["endpoints"].items()}
    rows |= {
        f"poll, {report['scale']['line']:,} waiting": report["scale"]["poll_1m"],
        "poll, 1,000 waiting": report["scale"]["poll_1k"],
    }
    for name, r in rows.items():
        lines.append(
            f"| {name} | {r['requests_per_second']:,.0f} | {r['p50_ms']:.2f} | "
            f"{r['p99_ms']:.2f} | {r['failures']} | {r['client_cpu_share']:.0%} | "
            f"{_per_request(r, 'other', m['cores'])} | "
            f"{_per_request(r, ('redis', 'postgres'), m['cores'])} |"
        )
    beside = report.get("ceilings_beside")
    if beside:
        lines += [
            "",
            "| endpoint | its ceiling, run just before and after it | ceiling req/s | ratio |",
            "| --- | --- | --- | --- |",
        ]
        for name, ceiling in beside.items():
            rate = report["endpoints"][name]["requests_per_second"]
            lines.append(
                f"| `{name}` | `{ceiling['ceiling']}` | "
                f"{ceiling['requests_per_second']:,.0f} | "
                f"{rate / ceiling['requests_per_second']:.3f} |"
            )
    join = report.get("join_path")
    if join:
        lines += [
            "",
            "The join's guards, beside the plain join `queue_issue_plain` (ratios to `redis`):",
            "",
        ]
        for what, cost in join.items():
            lines.append(
                f"- {what} (`{cost['endpoint']}`): ratio {cost['ratio']:.3f} vs "
                f"{cost['ratio_without']:.3f} without: {cost['change']:+.0%}; the service's CPU "
                f"{cost['service_cpu_us']:,} µs per join vs {cost['service_cpu_us_without']:,}."
            )
    onsale = report.get("onsale")
    if onsale:
        lines += [
            "",
            f"On-sale: {onsale['users']:,} fans, {onsale['seats']} seats, "
            f"{onsale.get('instances', '?')} instances, capacity {onsale.get('capacity', '?')}: "
            f"sold {onsale['sold']} in {onsale['seconds_to_sell_out']:.1f} s, "
            f"{onsale['double_sold']} sold twice, money conserved: "
            f"{'yes' if onsale['money_conserved'] else '**no**'}; "
            f"{onsale['cpu_seconds_per_ticket']:.3f} server CPU s per ticket.",
        ]
        if "latency_ms" in onsale:
            lines += [
                "",
                "| on-sale endpoint | requests | p50 ms | p99 ms |",
                "| --- | --- | --- | --- |",
            ]
            for name, latency in onsale["latency_ms"].items():
                count = onsale.get("requests", {}).get(name, "")
                lines.append(f"| {name} | {count} | {latency['p50']:.1f} | {latency['p99']:.1f} |")
    return "\n".join(lines) + "\n"


def _per_request(result: dict[str, Any], groups: str | tuple[str, ...], cores: int) -> str:
    """CPU microseconds per request of the process groups (``other``: the servers)."""
    shares = result.get("cpu_shares")
    if not shares or not result["requests_per_second"]:
        return ""
    names = (groups,) if isinstance(groups, str) else groups
    share = sum(shares.get(name, 0.0) for name in names)
    return f"{share * cores / result['requests_per_second'] * 1e6:,.0f}"
