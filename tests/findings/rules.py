"""Sigma rules the tests write into a rules directory (`RULE`: a stable, high rule on log
clears, 1102, with its author and ATT&CK tags)."""

RULE = """title: Security Log Cleared
id: 99999999-9999-9999-9999-999999999999
status: stable
level: high
author: Jane Doe
tags:
    - attack.defense-evasion
    - attack.t1070.001
logsource:
    product: windows
    service: security
detection:
    selection:
        EventID: 1102
    condition: selection
"""
