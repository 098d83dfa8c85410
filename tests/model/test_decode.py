"""Decoding raw values into the text an analyst reads in the detail pane and in findings."""

from __future__ import annotations

import base64

import pytest

from core.model.access import decode_access_mask, message_text
from core.model.command_line import decoded_command_line
from core.model.decode import decode_value
from core.model.field_help import FIELD_HELP, FIELD_HELP_JA, field_help


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("%%1936", "Type 1: full token"),
        ("%%1937", "Type 2: elevated token"),
        ("%%1938", "Type 3: limited token"),
    ],
)
def test_token_elevation_types(value: str, expected: str) -> None:
    text = decode_value("TokenElevationType", value, 4688)
    assert text is not None and text.startswith(expected)


def test_token_elevation_explains_why() -> None:
    assert "UAC off" in (decode_value("TokenElevationType", "%%1936") or "")
    assert "run as administrator" in (decode_value("TokenElevationType", "%%1937") or "")


@pytest.mark.parametrize(
    ("sid", "name"),
    [
        ("S-1-16-0", "Untrusted"),
        ("S-1-16-4096", "Low"),
        ("S-1-16-8192", "Medium"),
        ("S-1-16-8448", "Medium Plus"),
        ("S-1-16-12288", "High"),
        ("S-1-16-16384", "System"),
        ("S-1-16-20480", "Protected Process"),
        ("S-1-16-28672", "Secure Process"),
    ],
)
def test_mandatory_labels(sid: str, name: str) -> None:
    text = decode_value("MandatoryLabel", sid, 4688)
    assert text is not None and text.startswith(name + " ")
    # Medium must not be read as Medium Plus and vice versa.
    assert ("Plus" in text) == (name == "Medium Plus")


def test_unknown_label_still_decoded_in_hex() -> None:
    assert decode_value("MandatoryLabel", "S-1-16-9999") == "mandatory label, unknown level (0x270f)"


@pytest.mark.parametrize(
    ("sid", "fragment"),
    [
        ("S-1-5-18", "SYSTEM"),
        ("S-1-5-19", "LOCAL SERVICE"),
        ("S-1-5-20", "NETWORK SERVICE"),
        ("S-1-0-0", "NULL SID"),
        ("S-1-5-7", "ANONYMOUS LOGON"),
        ("S-1-5-32-544", "Administrators"),
        ("S-1-5-21-1377283216-344919071-3415362939-500", "built-in Administrator account (RID 500)"),
        ("S-1-5-21-1377283216-344919071-3415362939-501", "built-in Guest account (RID 501)"),
        ("S-1-5-21-1377283216-344919071-3415362939-512", "Domain Admins (RID 512)"),
        ("S-1-5-21-1377283216-344919071-3415362939-1104", "domain or local account (RID 1104)"),
        ("S-1-5-90-0-1", "Window Manager"),
    ],
)
def test_well_known_sids(sid: str, fragment: str) -> None:
    assert fragment in (decode_value("SubjectUserSid", sid) or "")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0x3e7", "0x3e7 (999) SYSTEM session"),
        ("0x00000000000003e7", "0x3e7 (999) SYSTEM session"),
        ("0x3e5", "0x3e5 (997) LOCAL SERVICE session"),
        ("0x3e4", "0x3e4 (996) NETWORK SERVICE session"),
        ("0x4a5af0", "0x4a5af0 (4872944)"),
    ],
)
def test_logon_ids(value: str, expected: str) -> None:
    assert decode_value("SubjectLogonId", value, 4688) == expected


def test_logon_id_0x3e6_is_the_anonymous_logon_session() -> None:
    """winnt.h: ANONYMOUS_LOGON_LUID is 0x3e6; IUSER_LUID is 0x3e3."""
    text = decode_value("SubjectLogonId", "0x3e6", 4624)
    assert text is not None and "ANONYMOUS LOGON" in text.upper() and "IUSR" not in text
    iusr = decode_value("TargetLogonId", "0x3e3", 4624)
    assert iusr is not None and "IUSR" in iusr


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("2", "Interactive"),
        ("3", "Network"),
        ("4", "Batch"),
        ("5", "Service"),
        ("7", "Unlock"),
        ("8", "NetworkCleartext"),
        ("9", "NewCredentials"),
        ("10", "RemoteInteractive"),
        ("11", "CachedInteractive"),
    ],
)
def test_logon_types(value: str, fragment: str) -> None:
    text = decode_value("LogonType", value, 4624)
    assert text is not None and text.startswith(fragment)


@pytest.mark.parametrize("value", ["0x0000000000000c8c", "0x00000c8c", "0xc8c"])
def test_hex_pids_and_handles_show_both_forms(value: str) -> None:
    assert decode_value("NewProcessId", value, 4688) == "0xc8c (3212)"
    assert decode_value("TargetHandleId", value, 4690) == "0xc8c (3212)"
    assert decode_value("SourceProcessId", value, 4690) == "0xc8c (3212)"


def test_nothing_to_add_is_none() -> None:
    assert decode_value("NewProcessName", "C:\\Windows\\System32\\cmd.exe") is None
    assert decode_value("SubjectUserName", "dadmin") is None
    assert decode_value("CommandLine", "") is None
    assert decode_value("TargetUserName", "-") is None
    assert decode_value("CommandLine", "cmd.exe /c whoami") is None


def test_process_access_mask_with_object_type() -> None:
    assert decode_access_mask(0x1410, "Process") == (
        "PROCESS_VM_READ, PROCESS_QUERY_INFORMATION, PROCESS_QUERY_LIMITED_INFORMATION"
    )
    assert decode_value("AccessMask", "0x1fffff", 4656, object_type="Process") is not None
    full = decode_access_mask(0x1FFFFF, "process")
    for right in ("DELETE", "READ_CONTROL", "WRITE_DAC", "WRITE_OWNER", "SYNCHRONIZE", "PROCESS_VM_WRITE"):
        assert right in full


def test_file_and_registry_and_generic_masks() -> None:
    assert decode_access_mask(0x120089, "File") == (
        "SYNCHRONIZE, READ_CONTROL, ReadData/ListDirectory, ReadEA, ReadAttributes"
    )
    assert decode_access_mask(0x20019, "Key") == ("READ_CONTROL, KEY_QUERY_VALUE, KEY_ENUMERATE_SUB_KEYS, KEY_NOTIFY")
    assert decode_access_mask(0x80000000) == "GENERIC_READ"
    assert decode_access_mask(0x10000000 | 0x02000000) == "GENERIC_ALL, MAXIMUM_ALLOWED"
    assert decode_access_mask(0) == "no access"


def test_mask_without_object_type_lists_the_readings() -> None:
    text = decode_value("AccessMask", "0x10", 4663)
    assert text is not None
    assert text.startswith("0x10 (16): ")
    assert "File: WriteEA" in text and "Process: PROCESS_VM_READ" in text and "Key: KEY_NOTIFY" in text


@pytest.mark.parametrize(
    ("msg", "text"),
    [
        (1537, "DELETE"),
        (1538, "READ_CONTROL"),
        (1541, "SYNCHRONIZE"),
        (4416, "ReadData (or ListDirectory)"),
        (4417, "WriteData (or AddFile)"),
        (4423, "ReadAttributes"),
        (4432, "Query key value"),
        (4480, "Force process termination"),
        (4484, "Read from process memory"),
        (4485, "Write to process memory"),
        (4490, "Query process information"),
        (4560, "Force thread termination"),
    ],
)
def test_access_message_ids(msg: int, text: str) -> None:
    assert message_text(msg) == text


def test_access_list_field() -> None:
    value = "%%4484\r\n\t\t\t\t%%4416\r\n\t\t\t\t"
    assert decode_value("AccessList", value, 4663) == "Read from process memory; ReadData (or ListDirectory)"
    assert decode_value("AccessList", "%%99999") is None


def test_encoded_powershell_is_decoded() -> None:
    payload = base64.b64encode("IEX (Invoke-Mimikatz -DumpCreds)".encode("utf-16-le")).decode()
    for flag in ("-enc", "-EncodedCommand", "-e", "-ec", "/enco"):
        views = decoded_command_line(f"powershell.exe -nop {flag} {payload}")
        assert views == [("-EncodedCommand base64", "IEX (Invoke-Mimikatz -DumpCreds)")], flag
    # -ExecutionPolicy is not a prefix of -EncodedCommand.
    assert decoded_command_line(f"powershell.exe -ex {payload}") == []
    text = decode_value("CommandLine", f"powershell -enc {payload}", 4688)
    assert text == "decoded from -EncodedCommand base64: IEX (Invoke-Mimikatz -DumpCreds)"


def test_character_code_lists_are_decoded() -> None:
    codes = " ,".join(str(ord(c)) for c in "Invoke-Mimikatz")
    views = decoded_command_line(f"powershell -c [sTRING]((91 ,{codes}) | % {{ [ChaR][InT]$_ }})")
    assert views == [("character codes", "[Invoke-Mimikatz")]


def test_decoding_is_bounded_on_hostile_input() -> None:
    huge = "-enc " + "A" * 5_000_000 + " " + ",".join(["65"] * 1_000_000)
    views = decoded_command_line(huge)
    assert len(views) <= 16
    assert sum(len(v) for _, v in views) <= 64 * 1024


def test_field_help_covers_4688_and_4690() -> None:
    fields_4688 = [
        "SubjectUserSid",
        "SubjectUserName",
        "SubjectDomainName",
        "SubjectLogonId",
        "NewProcessId",
        "NewProcessName",
        "TokenElevationType",
        "ProcessId",
        "CommandLine",
        "TargetUserSid",
        "TargetUserName",
        "TargetDomainName",
        "TargetLogonId",
        "ParentProcessName",
        "MandatoryLabel",
    ]
    fields_4690 = [
        "SubjectUserSid",
        "SubjectUserName",
        "SubjectDomainName",
        "SubjectLogonId",
        "SourceHandleId",
        "SourceProcessId",
        "TargetHandleId",
        "TargetProcessId",
    ]
    for eid, names in ((4688, fields_4688), (4690, fields_4690)):
        for name in names:
            assert FIELD_HELP.get((eid, name)), (eid, name)
            assert FIELD_HELP_JA.get((eid, name)), (eid, name)
    assert "Creator Process ID" in FIELD_HELP[(4688, "ProcessId")]
    assert "duplicated" in FIELD_HELP[(4690, "SourceHandleId")]
    assert field_help(4688, "newprocessname") == FIELD_HELP[(4688, "NewProcessName")]
    assert field_help(4690, "TargetProcessId", "ja") == FIELD_HELP_JA[(4690, "TargetProcessId")]
    assert field_help(4624, "LogonType") is None
