"""A child process (ingest, findings) imports the project's own modules, never a same-named
package in the analyst's current directory (often the folder of collected evidence)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from core.store.child_process import module_command


def test_a_child_ignores_a_core_package_in_the_current_directory(tmp_path: Path) -> None:
    marker = tmp_path / "imported"
    fake = tmp_path / "core"
    fake.mkdir()
    (fake / "__init__.py").write_text(f"open({str(marker)!r}, 'w').close()\n", encoding="utf-8")
    cmd, env = module_command("core.store.child_process")
    done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert not marker.exists()
