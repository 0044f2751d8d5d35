#!/usr/bin/env python3
"""docs/operations.md against the dashboard and the alert rules.

Each panel of docker/grafana/dashboards/signal-service.json becomes one row of the panel table:
its dashboard row, title, queries, and what healthy looks like (the sentence after "Healthy:" in
its description). Each alert of docker/prometheus/alerts.yml must have its runbook section (the
heading its `runbook` annotation links to).

Usage: scripts/observability-docs.py          rewrite the panel table in docs/operations.md
       scripts/observability-docs.py --check  fail when the table differs from the dashboard or
                                              an alert has no runbook section (CI)
"""

import json
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DASHBOARD = os.path.join(ROOT, "docker/grafana/dashboards/signal-service.json")
DOC = os.path.join(ROOT, "docs/operations.md")
ALERTS = os.path.join(ROOT, "docker/prometheus/alerts.yml")
HEADER = "| row | panel | query | healthy |"


def table():
    lines = [HEADER, "|---|---|---|---|"]
    row = None
    for p in json.load(open(DASHBOARD, encoding="utf-8"))["panels"]:
        if p["type"] == "row":
            row = p["title"]
            continue
        m = re.search(r"Healthy:\s*(.*)$", p.get("description", ""))
        if not m:
            sys.exit(f"panel '{p['title']}' has no 'Healthy:' sentence in its description")
        queries = "<br>".join("`" + t["expr"].replace("|", "\\|") + "`" for t in p["targets"])
        lines.append(f"| {row} | {p['title']} | {queries} | {m.group(1).strip().rstrip('.')} |")
    return "\n".join(lines)


def main():
    doc = open(DOC, encoding="utf-8").read()
    start = doc.index(HEADER)
    end = doc.index("\n\n", start)
    want = table()
    if "--check" in sys.argv:
        if doc[start:end] != want:
            sys.exit("docs/operations.md's panel table differs from the dashboard: run scripts/observability-docs.py")
        # Alert names and their runbook anchors, read without a YAML library.
        alerts = re.findall(r"- alert: (\w+)", open(ALERTS, encoding="utf-8").read())
        anchors = re.findall(r"runbook: docs/operations.md#(\w+)", open(ALERTS, encoding="utf-8").read())
        headings = set(re.findall(r"^#### (\w+)$", doc, flags=re.M))
        for alert, anchor in zip(alerts, anchors, strict=True):
            if alert not in headings or anchor != alert.lower():
                sys.exit(f"alert {alert}: no '#### {alert}' runbook section in docs/operations.md (or its link is not #{alert.lower()})")
        print(f"ok: docs/operations.md lists the dashboard's {want.count(chr(10)) - 1} panels and a runbook for each of {len(alerts)} alerts")
        return
    open(DOC, "w", encoding="utf-8").write(doc[:start] + want + doc[end:])


if __name__ == "__main__":
    main()
