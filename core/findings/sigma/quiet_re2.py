"""pySigma's check of every `|re` pattern, on RE2 without its error log.

pySigma (its default `SafePolicy`) compiles each rule's `|re` pattern with RE2 to refuse the ones
RE2 cannot run. RE2 logs a pattern it rejects, raw, to the process's file descriptor 2 (a C++
logger, below Python's `sys.stderr`): a rule from any repository wrote its pattern's escape
sequences straight to the analyst's terminal (the window title changed, the screen cleared, the
app's screen broken). The same check here, with RE2's log off (as `core.findings.linear_regex`
compiles its own patterns); the rule's reason is still said, escaped, by the rule loader.
"""

from __future__ import annotations

import re
from typing import Any, cast

import re2
import sigma.policy
from sigma.policy.regex_engine import RE2RegexEngine, RegexPattern

_QUIET = re2.Options()
_QUIET.log_errors = False
_FLAGS = {re.IGNORECASE: "i", re.MULTILINE: "m", re.DOTALL: "s"}


class QuietRE2Engine(RE2RegexEngine):
    """`RE2RegexEngine` (its flags as inline flags, as it does), logging nothing."""

    def compile(self, pattern: str, flags: int = 0) -> RegexPattern:
        prefix = "".join(v for k, v in _FLAGS.items() if int(flags) & int(k))
        compiled: Any = re2.compile(f"(?{prefix})" + pattern if prefix else pattern, _QUIET)
        return cast(RegexPattern, compiled)


def install() -> None:
    """Make pySigma's default policy check patterns on the quiet engine (once per process)."""
    policy = sigma.policy.default_policy
    if not isinstance(policy.regex_engine, QuietRE2Engine):
        sigma.policy.default_policy = sigma.policy.SigmaPolicy(
            regex_engine=QuietRE2Engine(), allow_template_vars=policy.allow_template_vars,
            vars_allowed_paths=policy.vars_allowed_paths, allow_external_sources=policy.allow_external_sources)
