"""The tests of one value against an RE2 pattern that the generated rule code and the combined
values (`many`) share: a value RE2 cannot encode (a lone surrogate from a log's bad UTF-16) is
tested by Python's engine instead of ending the run. A module of its own so that `compiler` and
`many` both import it (neither imports the other's internals)."""

from __future__ import annotations

import re
from typing import Any


def glob_test(pattern: Any, value: str | None) -> bool:
    if value is None:
        return False
    try:
        return pattern.fullmatch(value) is not None
    except UnicodeError:  # a lone surrogate RE2 cannot encode: Python's engine
        return re.fullmatch(pattern.pattern, value, re.DOTALL) is not None


def search_test(pattern: Any, value: str | None) -> bool:
    if value is None:
        return False
    try:
        return pattern.search(value) is not None
    except UnicodeError:  # a lone surrogate RE2 cannot encode: Python's engine
        return re.search(_python_pattern(pattern), value) is not None


def _python_pattern(pattern: Any) -> str:
    """An RE2 pattern (inline flags first) as Python's `re` reads it."""
    return str(pattern.pattern)
