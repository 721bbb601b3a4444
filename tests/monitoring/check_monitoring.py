#!/usr/bin/env python3
"""The monitoring files' own checks, for tests/monitoring/check-monitoring.sh.

  check_monitoring.py scrape URL OUT        fetch a live /metrics into OUT
  check_monitoring.py live METRICS          the scrape has a VM's series
  check_monitoring.py dashboard JSON        the Grafana dashboard's model
  check_monitoring.py promql JSON OUT       its queries as a rules file
                                            (for promtool check rules)
  check_monitoring.py names METRICS RULES JSON
                                            every metric named in the rules
                                            and the dashboard is exported
  check_monitoring.py coverage RULES TESTS  every alert is documented and
                                            tested firing and not firing

Each prints what is wrong, one line each, and exits 1 if anything is.
"""
import json
import re
import sys
import time
import urllib.request

import yaml

# Series that Prometheus makes itself, not the daemon.
PROMETHEUS_OWN = {"up", "ALERTS"}

# PromQL's functions and aggregations (Prometheus 2.42): an identifier
# followed by "(" must be one of these.
FUNCTIONS = set("""
abs absent absent_over_time acos acosh asin asinh atan atanh avg_over_time
ceil changes clamp clamp_max clamp_min cos cosh count_over_time day_of_month
day_of_week day_of_year days_in_month deg delta deriv exp floor
histogram_count histogram_fraction histogram_quantile histogram_sum
holt_winters hour idelta increase irate label_join label_replace
last_over_time ln log10 log2 mad_over_time max_over_time min_over_time minute
month pi predict_linear present_over_time quantile_over_time rad rate resets
round scalar sgn sin sinh sort sort_desc sqrt stddev_over_time
stdvar_over_time sum_over_time tan tanh time timestamp vector year
sum min max avg group stddev stdvar count count_values bottomk topk quantile
""".split())
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right",
            "bool", "and", "or", "unless", "offset", "atan2", "inf", "nan",
            "start", "end"}

# Grafana's variables, and what stands in for them in a syntax check.
GRAFANA_VARS = {"__rate_interval": "5m", "__interval": "1m", "__range": "1h",
                "job": ".*", "instance": ".*"}

# The panel types this dashboard may use (Grafana 10's core panels).
PANEL_TYPES = {"row", "stat", "timeseries", "state-timeline", "table",
               "gauge", "bargauge", "text", "status-history"}

problems = []


def bad(msg):
    problems.append(msg)
    print(msg)


def finish():
    sys.exit(1 if problems else 0)


# ---- PromQL ----------------------------------------------------------------

STRING = r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`'
IDENT = r'[a-zA-Z_:][a-zA-Z0-9_:]*'
MATCHERS = r'\{(?:%s|[^{}"\'`])*\}' % STRING
# Left to right: label matchers, strings, ranges and label lists are
# skipped whole; an identifier not inside a number (100e-6, 5m) or a
# Grafana variable ($job) is a metric, a function or a keyword.
TOKEN = re.compile(
    r'(?P<matchers>%s)|(?P<str>%s)|\[[^\]]*\]'
    r'|\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)'
    r'|(?<![\w.:$])(?P<ident>%s)' % (MATCHERS, STRING, IDENT))


def selectors(expr):
    """([(metric name, its label matchers text)], {function names})."""
    sels, funcs = [], set()
    for m in TOKEN.finditer(expr):
        name = m.group("ident")
        if not name:
            continue
        rest = expr[m.end():]
        # f(...), or an aggregation with its label list first
        if re.match(r'\s*(?:(?:by|without)\s*\([^()]*\)\s*)?\(', rest):
            funcs.add(name)
        elif name.lower() not in KEYWORDS:
            mm = re.match(r'\s*(%s)' % MATCHERS, rest)
            sels.append((name, mm.group(1) if mm else ""))
    return sels, funcs


def promql_names(expr):
    """(metric names, function names) an expression uses."""
    sels, funcs = selectors(expr)
    return {n for n, _ in sels}, funcs


def template_names(text):
    """Metric names a rule's annotation mentions (its queries, its advice)."""
    return set(re.findall(r'\b(?:vhost_user_rtc_\w+|process_\w+)', text))


def exported(metrics_file):
    names = set()
    with open(metrics_file, encoding="utf-8") as f:
        for line in f:
            m = re.match(r'# TYPE (\S+) ', line)
            if m:
                names.add(m.group(1))
            elif line.strip() and not line.startswith("#"):
                names.add(re.match(IDENT, line).group(0))
    return names


# ---- the files -------------------------------------------------------------

def load_rules(path):
    with open(path, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    return [r for g in doc["groups"] for r in g["rules"]]


def load_dashboard(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def all_panels(panels):
    for p in panels:
        yield p
        yield from all_panels(p.get("panels", []))


def dashboard_queries(dash):
    """(where, expr) for every panel target and query variable."""
    for p in all_panels(dash.get("panels", [])):
        for t in p.get("targets", []):
            yield ("panel %s %r target %s" % (p.get("id"), p.get("title"),
                                               t.get("refId")),
                   t.get("expr", ""))
    for v in dash.get("templating", {}).get("list", []):
        if v.get("type") != "query":
            continue
        q = v.get("query")
        q = q.get("query", "") if isinstance(q, dict) else (q or "")
        # label_values(SELECTOR, label): the selector is PromQL
        m = re.fullmatch(r'\s*label_values\((.*),\s*\w+\s*\)\s*', q, re.S)
        yield ("variable %s" % v.get("name"), m.group(1) if m else q)


# ---- the checks ------------------------------------------------------------

def cmd_scrape(url, out):
    """Retry for up to 10 s: the daemon may still be starting."""
    last = None
    for _ in range(50):
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                body = r.read().decode("utf-8")
            with open(out, "w", encoding="utf-8") as f:
                f.write(body)
            return
        except OSError as e:
            last = e
            time.sleep(0.2)
    bad("scrape %s: %s" % (url, last))


def cmd_live(metrics_file):
    """promtool check metrics only sees what was scraped: make sure the
    per-VM families had samples (a VM was connected)."""
    text = open(metrics_file, encoding="utf-8").read()
    for fam in ("vhost_user_rtc_vm_requests_total",
                "vhost_user_rtc_vm_connected_seconds",
                "vhost_user_rtc_vm_alarm_events_total",
                "vhost_user_rtc_socket_connections",
                "vhost_user_rtc_source_state",
                "process_start_time_seconds",
                "vhost_user_rtc_leap_file_expiry_timestamp_seconds"):
        if not re.search(r'^%s(\{.*\})? \S+$' % fam, text, re.M):
            bad("live scrape: no sample of %s" % fam)
    if not re.search(r'^vhost_user_rtc_vms_connected [1-9]', text, re.M):
        bad("live scrape: no VM connected while it was taken")


def cmd_dashboard(path):
    try:
        dash = load_dashboard(path)
    except (OSError, ValueError) as e:
        bad("%s: not JSON: %s" % (path, e))
        return
    for key in ("title", "uid", "panels", "templating", "schemaVersion"):
        if key not in dash:
            bad("%s: no %s" % (path, key))
    sv = dash.get("schemaVersion")
    if not isinstance(sv, int) or not 36 <= sv <= 41:
        bad("%s: schemaVersion %r, expected 36..41 (Grafana 9.4-11)" % (path, sv))
    variables = {v.get("name"): v for v in
                 dash.get("templating", {}).get("list", [])}
    for name in ("datasource", "job", "instance"):
        if name not in variables:
            bad("%s: no template variable %s" % (path, name))
    ds = variables.get("datasource", {})
    if ds.get("type") != "datasource" or ds.get("query") != "prometheus":
        bad("%s: variable datasource is not a Prometheus data source" % path)
    for name in ("job", "instance"):
        v = variables.get(name, {})
        if v.get("type") != "query" or not v.get("includeAll"):
            bad("%s: variable %s is not a query with All" % (path, name))
    ids = set()
    for p in all_panels(dash.get("panels", [])):
        where = "%s: panel %s %r" % (path, p.get("id"), p.get("title"))
        if not isinstance(p.get("id"), int) or p["id"] in ids:
            bad("%s: id missing or repeated" % where)
        ids.add(p.get("id"))
        if p.get("type") not in PANEL_TYPES:
            bad("%s: unknown type %r" % (where, p.get("type")))
        if not p.get("title"):
            bad("%s: no title" % where)
        g = p.get("gridPos", {})
        if not all(isinstance(g.get(k), int) for k in "xywh") or \
                g["x"] < 0 or g["w"] < 1 or g["x"] + g["w"] > 24:
            bad("%s: bad gridPos %r" % (where, g))
        if p.get("type") == "row":
            continue
        if p.get("datasource", {}).get("uid") != "${datasource}":
            bad("%s: data source is not ${datasource}" % where)
        targets = p.get("targets", [])
        if not targets:
            bad("%s: no query" % where)
        refs = [t.get("refId") for t in targets]
        if len(set(refs)) != len(refs) or None in refs:
            bad("%s: refIds missing or repeated: %r" % (where, refs))
        for t in targets:
            expr = t.get("expr", "")
            if not expr.strip():
                bad("%s: empty expr" % where)
            # every selector follows the job and instance chosen
            for name, matchers in selectors(expr)[0]:
                if 'job=~"$job"' not in matchers or \
                        'instance=~"$instance"' not in matchers:
                    bad('%s: %s without job=~"$job" and instance=~"$instance"'
                        % (where, name))
    if not ids:
        bad("%s: no panels" % path)


def cmd_promql(path, out):
    """The dashboard's queries, variables replaced, as recording rules:
    promtool check rules then parses each with Prometheus's own parser."""
    dash = load_dashboard(path)
    rules = []
    for i, (where, expr) in enumerate(dashboard_queries(dash)):
        e = re.sub(r'\$\{?(\w+)\}?',
                   lambda m: GRAFANA_VARS.get(m.group(1), m.group(0)), expr)
        if "$" in e:
            bad("%s: unknown variable in %r" % (where, expr))
        rules.append({"record": "dashboard:query_%d" % i, "expr": e})
    with open(out, "w", encoding="utf-8") as f:
        json.dump({"groups": [{"name": "dashboard", "rules": rules}]}, f,
                  indent=1)


def cmd_names(metrics_file, rules_path, dash_path):
    live = exported(metrics_file) | PROMETHEUS_OWN
    uses = []  # (where, metric names, function names)
    for r in load_rules(rules_path):
        where = "rule %s" % (r.get("alert") or r.get("record"))
        metrics, funcs = promql_names(str(r["expr"]))
        uses.append((where, metrics, funcs))
        for k, text in sorted(r.get("annotations", {}).items()):
            uses.append(("%s annotation %s" % (where, k), template_names(text),
                         set()))
    for where, expr in dashboard_queries(load_dashboard(dash_path)):
        metrics, funcs = promql_names(expr)
        uses.append(("dashboard " + where, metrics, funcs))
    seen = set()
    for where, metrics, funcs in uses:
        for name in sorted(metrics - live):
            bad("%s: %s is not exported by the daemon" % (where, name))
        for name in sorted(funcs - FUNCTIONS):
            bad("%s: %s( is not a PromQL function" % (where, name))
        seen |= metrics
    if len(seen) < 10:  # the extraction itself broke
        bad("only %d metric names found in the rules and dashboard: %s"
            % (len(seen), sorted(seen)))
    if not problems:
        print("metric names used: %d, all exported" % len(seen))


def cmd_coverage(rules_path, tests_path):
    alerts = [r for r in load_rules(rules_path) if "alert" in r]
    with open(tests_path, encoding="utf-8") as f:
        tests = yaml.safe_load(f)
    fired, quiet = set(), set()
    for t in tests.get("tests", []):
        for a in t.get("alert_rule_test", []):
            (fired if a.get("exp_alerts") else quiet).add(a["alertname"])
    names = set()
    for r in alerts:
        name = r["alert"]
        names.add(name)
        ann = r.get("annotations", {})
        for k in ("summary", "description"):
            if not str(ann.get(k, "")).strip():
                bad("rule %s: no %s annotation" % (name, k))
        if "severity" not in r.get("labels", {}):
            bad("rule %s: no severity label" % name)
        if name not in fired:
            bad("rule %s: no test case where it fires" % name)
        if name not in quiet:
            bad("rule %s: no test case where it does not fire" % name)
    for name in sorted((fired | quiet) - names):
        bad("test of %s: no such alert in %s" % (name, rules_path))
    if not alerts:
        bad("%s: no alerting rule" % rules_path)


def main(argv):
    cmds = {"scrape": (cmd_scrape, 2), "live": (cmd_live, 1),
            "dashboard": (cmd_dashboard, 1), "promql": (cmd_promql, 2),
            "names": (cmd_names, 3), "coverage": (cmd_coverage, 2)}
    if len(argv) < 2 or argv[1] not in cmds or \
            len(argv) - 2 != cmds[argv[1]][1]:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    cmds[argv[1]][0](*argv[2:])
    finish()


if __name__ == "__main__":
    main(sys.argv)
