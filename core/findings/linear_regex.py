"""Regular expressions over log text compiled by RE2 where they can be: linear time.

Event text is the attacker's: a backtracking regex of a rule (a Sigma rule's `|re`, the naming
convention of `rules.toml`) run over a crafted value (an account name, a command line) must not
hang a run. RE2 has no lookarounds nor backreferences: a pattern that needs them is compiled by
Python's `re`, as before.
"""

from __future__ import annotations

import re
from typing import Any


def rx(pattern: str, flags: int = 0) -> Any:
    """`pattern` compiled by RE2 where it can (linear time), else by Python's `re` (which raises
    `re.error` for a bad one). Both answer `search`, `fullmatch` and `pattern`."""
    import re2

    inline = "".join(c for flag, c in ((re.IGNORECASE, "i"), (re.MULTILINE, "m"), (re.DOTALL, "s")) if flags & flag)
    options = re2.Options()
    options.log_errors = False  # RE2 would write refusals on stderr (the app's terminal)
    try:
        return re2.compile(f"(?{inline}){pattern}" if inline else pattern, options=options)
    except Exception:  # noqa: BLE001 - syntax RE2 lacks: Python's engine
        return re.compile(pattern, flags)
