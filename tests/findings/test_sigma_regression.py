"""SigmaHQ's own regression data (../shared/sigma/regression_data): for each folder, the rule
named in its info.yml fires on its .evtx. The snapshot's rules are loaded once per session."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from core.findings.sigma.engine import CompiledRules, compile_rules, run_compiled
from core.findings.sigma.ruleset import load_rules
from core.store.ingest import load_paths
from core.store.sigma_reads import candidates
from core.store.store import Store
from tests.shared import SHARED, require_shared

SIGMA = SHARED / "sigma"
RULE_DIRS = ("rules", "rules-threat-hunting", "rules-emerging-threats")


def _folders() -> list[Path]:
    return sorted(p.parent for p in (SIGMA / "regression_data").glob("**/info.yml"))


@pytest.fixture(scope="session")
def snapshot_rules(tmp_path_factory: pytest.TempPathFactory) -> CompiledRules:
    require_shared()
    loaded = load_rules([SIGMA / d for d in RULE_DIRS], min_level="informational",
                        statuses=("stable", "test", "experimental", "deprecated", "unsupported"),
                        cache=tmp_path_factory.mktemp("sigma") / "parsed.pickle")
    assert not loaded.errors
    return compile_rules(loaded)


def _fired(compiled: CompiledRules, evtx: Path) -> set[str]:
    store = Store(":memory:")
    load_paths([str(evtx)], store)
    query = compiled.query()
    result = run_compiled(candidates(store, *query), compiled)
    return {result.rules[m.rule].id for m in result.matches}


def test_one_regression_folder_fires(tmp_path: Path) -> None:
    """Fast: one folder with only its own rule file."""
    require_shared()
    folder = SIGMA / "regression_data/rules/windows/process_creation/proc_creation_win_certutil_download"
    info = yaml.safe_load((folder / "info.yml").read_text())
    rule = SIGMA / "rules/windows/process_creation/proc_creation_win_certutil_download.yml"
    compiled = compile_rules(load_rules([rule], cache=False))
    assert info["rule_metadata"][0]["id"] in _fired(compiled, next(folder.glob("*.evtx")))


@pytest.mark.slow
def test_every_regression_folder_fires(snapshot_rules: CompiledRules) -> None:
    folders = _folders()
    assert len(folders) >= 100
    missed = []
    for folder in folders:
        wanted = yaml.safe_load((folder / "info.yml").read_text())["rule_metadata"][0]["id"]
        if wanted not in _fired(snapshot_rules, next(folder.glob("*.evtx"))):
            missed.append(folder.name)
    print(f"regression share: {len(folders) - len(missed)}/{len(folders)}")
    assert missed == []
