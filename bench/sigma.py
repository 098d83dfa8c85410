"""Benchmark of the Sigma engine (not a timed test): SigmaHQ's rules over big logs.

    python -m bench.sigma [--log bench/out/big-100mb.evtx] [--events 1000000] [--rules ../shared/sigma]

Loads (or reuses) a store of the 100 MB Security log (`bench/make_big_log.py`) and the 1M-event
synthetic store of `bench/table.py`, compiles every applicable rule of the snapshot (default
filters: level medium and up, not deprecated/unsupported) and runs them over each store.
Prints the rule load time (cold: pySigma parsing; warm: the parsed-rule cache), rules run,
candidate events, events/s, rule evaluations/s and the slowest rules (timed one by one over a
sample of candidates).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.table import build_store  # noqa: E402
from core.findings.sigma import read_plan  # noqa: E402
from core.findings.sigma.engine import CompiledRules, compile_rules, run_compiled  # noqa: E402
from core.findings.sigma.ruleset import load_rules  # noqa: E402
from core.store.ingest import load_paths  # noqa: E402
from core.store.sigma_reads import candidates  # noqa: E402
from core.store.store import Store  # noqa: E402

RULE_DIRS = ("rules", "rules-threat-hunting", "rules-emerging-threats")


def _load(rules: Path, cache: Path) -> CompiledRules:
    dirs = [rules / d for d in RULE_DIRS if (rules / d).is_dir()]
    for label in ("cold", "warm"):
        t = time.perf_counter()
        loaded = load_rules(dirs, cache=cache)
        parsed = time.perf_counter() - t
        compiled = compile_rules(loaded)
        print(f"rules ({label}): {len(loaded.rules)} loaded in {parsed:.2f} s, "
              f"{len(compiled.rules)} compiled in {time.perf_counter() - t - parsed:.2f} s")
    return compiled


def _slowest(store: Store, compiled: CompiledRules, sample: int = 20_000) -> list[tuple[float, str, str]]:
    """Per-rule time over the first `sample` candidates (each rule's function timed alone)."""
    from core.findings.sigma.compiler import Lower
    from core.findings.sigma.logsources import map_4688

    spent: dict[tuple[int, bool], float] = defaultdict(float)
    query = compiled.query()
    for n, (_sid, _ts, _rec, eid, channel, provider, computer, pairs) in enumerate(candidates(store, *query)):
        if n >= sample:
            break
        ch = channel.lower()
        r = dict(pairs)
        r.update(EventID=str(eid), Channel=channel, Provider_Name=provider, Computer=computer)
        m = {**map_4688(r), "EventID": str(eid), "Channel": channel, "Provider_Name": provider, "Computer": computer}
        for key in ((ch, eid), (ch, None)):
            for bucket in (compiled.dispatch.get(key) or {}).values():
                values = m if bucket.mapped else r
                low = Lower(values)
                for i in bucket.candidates(low):
                    e = bucket.entries[i]
                    t = time.perf_counter()
                    e.match(values, low)
                    spent[e.rule, e.mapped] += time.perf_counter() - t
    return sorted(((s, compiled.rules[i].title, "4688" if mapped else "") for (i, mapped), s in spent.items()),
                  reverse=True)[:8]


def _sql(node: Any, params: list[Any]) -> str | None:
    """A 4688-mapped plan as an SQL condition over the posting lists (the alternative to the
    compiled predicates this bench compares against), or None where it has no simple SQL."""
    from core.findings.sigma.logsources import MAP_4688
    from core.store.sigma_reads import _like

    kind = node[0]
    if kind == "const":
        return "1" if node[1] else "0"
    if kind in ("and", "or"):
        parts = [_sql(c, params) for c in node[1]]
        return None if None in parts else "(" + f" {kind.upper()} ".join(str(p) for p in parts) + ")"
    if kind == "not":
        inner = _sql(node[1], params)
        return None if inner is None else f"NOT {inner}"
    if kind != "str" or node[1] not in MAP_4688 or MAP_4688[node[1]][1]:
        return None
    params.append(MAP_4688[node[1]][0].lower())
    if node[2] == "eq":
        params.append(node[3])
        test = "p.value = ? COLLATE NOCASE"
    else:
        params.append({"start": "{}%", "end": "%{}"}.get(node[2], "%{}%").format(_like(node[3])))
        test = "p.value LIKE ? ESCAPE '\\'"
    return f"e.id IN (SELECT j.value FROM postings p, json_each(p.ids) j WHERE p.name = ? AND {test})"


def _sql_sample(store: Store, rules: Path, count: int) -> None:
    """Time `count` process_creation rules as generated SQL (4688 mapping) on this store."""
    from core.findings.sigma.compiler import definite
    from core.findings.sigma.engine import _has_4688

    loaded = load_rules([rules / d for d in RULE_DIRS if (rules / d).is_dir()])
    done = 0
    spent = 0.0
    for _meta, spec in loaded.rules:
        if spec.category != "process_creation" or spec.plan is None or done >= count:
            continue
        params: list[Any] = []
        cond = _sql(definite(spec.plan, _has_4688), params)
        if cond is None or cond == "0":
            continue
        t = time.perf_counter()
        store.conn.execute(
            f"SELECT count(*) FROM events e WHERE e.event_id = 4688 AND e.channel = 'Security' AND {cond}", params
        ).fetchone()
        spent += time.perf_counter() - t
        done += 1
    if done:
        each = spent / done
        print(f"  generated SQL instead: {done} process_creation rules in {spent:.2f} s, {each * 1000:.0f} ms a rule "
              f"(x {len(loaded.rules)} rules: ~{each * len(loaded.rules):.0f} s)")


def _run(name: str, store: Store, compiled: CompiledRules, size_mb: float | None) -> None:
    t = time.perf_counter()
    query, star_ids = read_plan(store, compiled)  # (as `run_sigma`: keyword rules read their events)
    result = run_compiled(candidates(store, *query, star_ids), compiled, None, star_ids)
    seconds = time.perf_counter() - t
    evaluations = result.evaluations
    total = store.size()
    rate = f", {size_mb / seconds:.1f} MB/s" if size_mb else ""
    print(f"{name}: {len(compiled.rules)} rules ({compiled.ran.total()} rule/source pairs)")
    print(f"  {total:,} events, {result.events:,} candidates, {len(result.matches):,} matches of "
          f"{len({m.rule for m in result.matches})} rules in {seconds:.2f} s: {total / seconds:,.0f} events/s, "
          f"{evaluations:,} rule evaluations ({evaluations / seconds:,.0f}/s){rate}")
    for spent, title, where in _slowest(store, compiled):
        print(f"    {spent * 1000:8.1f} ms  {title}  {where}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--log", default=str(ROOT / "bench/out/big-100mb.evtx"))
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--rules", default=str(ROOT.parent / "shared/sigma"))
    parser.add_argument("--sql", type=int, default=0, metavar="N",
                        help="also time N process_creation rules as generated SQL on each store")
    args = parser.parse_args()
    out = ROOT / "bench/out"
    out.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        compiled = _load(Path(args.rules), Path(tmp) / "parsed.pickle")
    log = Path(args.log)
    if log.is_file():
        db = out / "sigma-big-log.db"
        if not db.exists():
            t = time.perf_counter()
            with Store(db) as store:
                load_paths([str(log)], store)
                store.build_indexes()
            print(f"(ingest of {log.name}: {time.perf_counter() - t:.1f} s, once)")
        with Store(db, readonly=True) as store:
            _run(log.name, store, compiled, log.stat().st_size / 1e6)
            if args.sql:
                _sql_sample(store, Path(args.rules), args.sql)
    else:
        print(f"no {log}: build it with bench/make_big_log.py (see bench/README.md)")
    db = out / f"table-{args.events}.db"
    build_store(db, args.events)
    with Store(db, readonly=True) as store:
        _run(f"synthetic store ({db.name})", store, compiled, None)
        if args.sql:
            _sql_sample(store, Path(args.rules), args.sql)
    return 0


if __name__ == "__main__":
    sys.exit(main())
