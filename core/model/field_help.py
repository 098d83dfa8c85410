"""Descriptions of the fields of 4688 and 4690, from Microsoft's documentation pages (the
Japanese seeds in `../shared/seeds`, translated), for the detail pane."""

from __future__ import annotations

# -- field descriptions -----------------------------------------------------------------------

_SUBJECT_HELP_4688 = {
    "SubjectUserSid": "Creator Subject security ID: SID of the account that requested the process creation.",
    "SubjectUserName": "Creator Subject account name: the account that requested the process creation.",
    "SubjectDomainName": (
        "Creator Subject account domain: NetBIOS or DNS domain name, NT AUTHORITY for well-known "
        "principals, or the computer's name for a local account."
    ),
    "SubjectLogonId": "Creator Subject logon ID (hex): links this event to the 4624 logon with the same ID.",
}

_SUBJECT_HELP_4690 = {
    "SubjectUserSid": "Subject security ID: SID of the account that tried to duplicate a handle to an object.",
    "SubjectUserName": "Subject account name: the account that tried to duplicate a handle to an object.",
    "SubjectDomainName": (
        "Subject account domain: NetBIOS or DNS domain name, NT AUTHORITY for well-known "
        "principals, or the computer's name for a local account."
    ),
    "SubjectLogonId": "Subject logon ID (hex): links this event to the 4624 logon with the same ID.",
}

#: Short English description of each field of 4688 and 4690, for the detail pane.
FIELD_HELP: dict[tuple[int, str], str] = {
    **{(4688, k): v for k, v in _SUBJECT_HELP_4688.items()},
    (4688, "TargetUserSid"): (
        "Target Subject security ID (version 2): SID of the account the new process runs as, when "
        "it is not the creator's logon."
    ),
    (4688, "TargetUserName"): "Target Subject account name (version 2): the account the new process runs as.",
    (4688, "TargetDomainName"): "Target Subject account domain (version 2): domain or computer name of the target.",
    (4688, "TargetLogonId"): "Target Subject logon ID (version 2, hex): links to the 4624 logon of the target.",
    (4688, "NewProcessId"): (
        "New Process ID (hex): PID of the new process; convert to decimal to compare with Task Manager. "
        "PIDs are reused."
    ),
    (4688, "NewProcessName"): "New Process Name: full path and name of the new process's executable.",
    (4688, "TokenElevationType"): (
        "Token Elevation Type: %%1936 Type 1 full token (UAC off, built-in admin, service); "
        "%%1937 Type 2 elevated (run as administrator); %%1938 Type 3 limited (UAC on, not elevated)."
    ),
    (4688, "MandatoryLabel"): (
        "Mandatory Label (version 2): SID of the integrity label given to the new process "
        "(S-1-16-4096 Low, 8192 Medium, 12288 High, 16384 System, 20480 Protected Process)."
    ),
    (4688, "ProcessId"): (
        "Creator Process ID (hex): PID of the process that started the new process (its parent); it "
        "matches the NewProcessId of the parent's own 4688."
    ),
    (4688, "ParentProcessName"): "Creator Process Name (version 2): full path and name of the parent's executable.",
    (4688, "CommandLine"): (
        "Process Command Line (versions 1, 2): the executable and its arguments; empty unless the "
        "'Include command line in process creation events' policy is enabled."
    ),
    **{(4690, k): v for k, v in _SUBJECT_HELP_4690.items()},
    (4690, "SourceHandleId"): (
        "Source Handle ID (hex): the handle that was duplicated; matches the HandleId of the 4656/4663 "
        "of the source process."
    ),
    (4690, "SourceProcessId"): (
        "Source Process ID (hex): PID of the process that had opened the source handle before it was "
        "duplicated (compare with a 4688 NewProcessId)."
    ),
    (4690, "TargetHandleId"): (
        "Target Handle ID (hex): the new handle, a copy of the source handle; later 4663/4658 events use it."
    ),
    (4690, "TargetProcessId"): (
        "Target Process ID (hex): PID of the process that received the new handle (compare with a 4688 NewProcessId)."
    ),
}

_SUBJECT_HELP_4688_JA = {
    "SubjectUserSid": "作成者サブジェクトのセキュリティID: 「プロセス作成」操作を要求したアカウントのSID。",
    "SubjectUserName": "作成者サブジェクトのアカウント名: 「プロセス作成」操作を要求したアカウントの名前。",
    "SubjectDomainName": (
        "作成者サブジェクトのアカウントドメイン: ドメイン名、NT AUTHORITY、またはローカルアカウントのコンピュータ名。"
    ),
    "SubjectLogonId": (
        "作成者サブジェクトのログオンID (16進数): 同じログオンIDを含む 4624 などのイベントと関連付けられます。"
    ),
}

#: The same descriptions in Japanese (from the seed pages).
FIELD_HELP_JA: dict[tuple[int, str], str] = {
    **{(4688, k): v for k, v in _SUBJECT_HELP_4688_JA.items()},
    (4688, "TargetUserSid"): "ターゲットサブジェクトのセキュリティID (バージョン2): ターゲットアカウントのSID。",
    (4688, "TargetUserName"): "ターゲットサブジェクトのアカウント名 (バージョン2): 対象アカウントの名前。",
    (
        4688,
        "TargetDomainName",
    ): "ターゲットサブジェクトのアカウントドメイン (バージョン2): 対象アカウントのドメインまたはコンピュータ名。",
    (4688, "TargetLogonId"): "ターゲットサブジェクトのログオンID (バージョン2, 16進数)。",
    (4688, "NewProcessId"): "新しいプロセスID (16進数): 10進数に変換するとタスクマネージャーの値と比較できます。",
    (4688, "NewProcessName"): "新しいプロセス名: 新しいプロセスの実行可能ファイルのフルパスと名前。",
    (4688, "TokenElevationType"): (
        "トークン昇格タイプ: %%1936 タイプ1 (完全なトークン、UAC無効など)、%%1937 タイプ2 (昇格、管理者として実行)、"
        "%%1938 タイプ3 (限定トークン)。"
    ),
    (4688, "MandatoryLabel"): "Mandatory Label (バージョン2): 新しいプロセスに割り当てられた整合性ラベルのSID。",
    (4688, "ProcessId"): "作成者プロセスID (16進数): 新しいプロセスを実行したプロセスのID。",
    (4688, "ParentProcessName"): "作成者プロセス名 (バージョン2): プロセスの実行ファイルのフルパスと名前。",
    (
        4688,
        "CommandLine",
    ): "プロセスコマンドライン (バージョン1, 2): 実行ファイルの名前と渡された引数。既定では空です。",
    (4690, "SubjectUserSid"): "セキュリティID: オブジェクトへのハンドルを複製しようとしたアカウントのSID。",
    (4690, "SubjectUserName"): "アカウント名: オブジェクトのハンドルを複製しようとしたアカウントの名前。",
    (4690, "SubjectDomainName"): "アカウントドメイン: サブジェクトのドメインまたはコンピュータ名。",
    (4690, "SubjectLogonId"): "ログオンID (16進数): 同じログオンIDを含むイベントと関連付けられます。",
    (4690, "SourceHandleId"): "ソースハンドルID (16進数): 複製されたハンドル。",
    (4690, "SourceProcessId"): "ソースプロセスID (16進数): 複製される前にソースハンドルを開いたプロセスのID。",
    (4690, "TargetHandleId"): "ターゲットハンドルID (16進数): 新しいハンドル (ソースハンドルのコピー)。",
    (4690, "TargetProcessId"): "ターゲットプロセスID (16進数): ターゲットハンドルを開いたプロセスのID。",
}


def field_help(event_id: int, field_name: str, lang: str = "en") -> str | None:
    """The description of `field_name` of `event_id` (case-insensitive name), or None."""
    table = FIELD_HELP_JA if lang == "ja" else FIELD_HELP
    low = field_name.lower()
    for (eid, name), text in table.items():
        if eid == event_id and name.lower() == low:
            return text
    return None
