"""The values `bench/churn.py` writes into its synthetic Security log: event System fields, the
images of long-running and short-lived processes, object names, access masks, users, addresses.
Plain data, so that the generator reads as the simulation it is."""

from __future__ import annotations

BASE_TS = 133_500_000_000_000_000  # 2024-01-20
MS = 10_000
BATCH = 50_000
DOMAIN = "CORP"
SID_BASE = "S-1-5-21-3623811015-3361044348-30300820"
PROVIDER = "Microsoft-Windows-Security-Auditing"
KEYWORDS = "0x8020000000000000"
#: (version, task) per EventID, as Windows logs them.
SYSTEM_FIELDS: dict[int, tuple[int, int]] = {
    4624: (2, 12544), 4634: (0, 12545), 4647: (0, 12545), 4672: (0, 12548), 4688: (2, 13312),
    4689: (0, 13313), 4656: (1, 12800), 4663: (1, 12800), 4658: (0, 12800), 4690: (0, 12807),
    5156: (1, 12810), 5158: (0, 12810), 4769: (0, 14337), 4768: (0, 14339), 4776: (0, 14336),
}
SYSTEM_PID = 4
#: Long-running processes started before the log begins (the model infers them from their use).
PERMANENT = (
    "C:\\Windows\\System32\\smss.exe", "C:\\Windows\\System32\\csrss.exe", "C:\\Windows\\System32\\wininit.exe",
    "C:\\Windows\\System32\\winlogon.exe", "C:\\Windows\\System32\\services.exe", "C:\\Windows\\System32\\lsass.exe",
    "C:\\Windows\\System32\\svchost.exe", "C:\\Windows\\System32\\svchost.exe", "C:\\Windows\\System32\\svchost.exe",
    "C:\\Windows\\System32\\svchost.exe", "C:\\Windows\\System32\\svchost.exe", "C:\\Windows\\System32\\spoolsv.exe",
    "C:\\ProgramData\\Microsoft\\Windows Defender\\Platform\\4.18.2111.5-0\\MsMpEng.exe",
    "C:\\Windows\\System32\\dfsrs.exe", "C:\\Windows\\System32\\dns.exe",
)
SERVICE_CHILDREN = (
    "C:\\Windows\\System32\\svchost.exe", "C:\\Windows\\System32\\wbem\\WmiPrvSE.exe",
    "C:\\Windows\\System32\\taskhostw.exe", "C:\\Windows\\System32\\conhost.exe",
    "C:\\Windows\\System32\\backgroundTaskHost.exe", "C:\\Windows\\System32\\SearchProtocolHost.exe",
    "C:\\Windows\\System32\\wermgr.exe", "C:\\Windows\\System32\\sppsvc.exe", "C:\\Windows\\System32\\dllhost.exe",
    "C:\\Windows\\System32\\gpupdate.exe", "C:\\Windows\\System32\\rundll32.exe",
)
USER_CHILDREN = (
    "C:\\Windows\\System32\\cmd.exe", "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
    "C:\\Windows\\System32\\conhost.exe", "C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe",
    "C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe", "C:\\Windows\\System32\\notepad.exe",
    "C:\\Program Files\\Microsoft Office\\root\\Office16\\OUTLOOK.EXE", "C:\\Windows\\System32\\whoami.exe",
    "C:\\Windows\\System32\\net.exe", "C:\\Windows\\System32\\ipconfig.exe", "C:\\Windows\\System32\\mmc.exe",
    "C:\\Windows\\System32\\dsa.msc", "C:\\Windows\\System32\\tasklist.exe", "C:\\Windows\\System32\\findstr.exe",
)
FILE_NAMES = tuple(
    f"C:\\{top}\\{sub}\\{name}"
    for top in ("Users\\alice\\Documents", "Windows\\System32\\config", "ProgramData\\app", "Windows\\SYSVOL\\domain",
                "Users\\bob\\AppData\\Local\\Temp", "Windows\\NTDS", "Shares\\Finance", "inetpub\\logs")
    for sub in ("a", "b", "c", "Policies", "2024")
    for name in ("report.docx", "SAM", "config.xml", "GptTmpl.inf", "tmp1.tmp", "ntds.dit", "q1.xlsx", "u_ex.log")
)
KEY_NAMES = tuple(
    f"\\REGISTRY\\MACHINE\\{path}"
    for path in ("SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run", "SYSTEM\\CurrentControlSet\\Services\\Netlogon",
                 "SECURITY\\Policy\\Secrets", "SAM\\SAM\\Domains\\Account", "SOFTWARE\\Policies\\Microsoft\\Windows",
                 "SYSTEM\\CurrentControlSet\\Control\\Lsa", "SOFTWARE\\Classes\\CLSID")
)
OBJECT_KINDS = (("File", FILE_NAMES, "%%4416", "0x1"), ("File", FILE_NAMES, "%%4417", "0x2"),
                ("Key", KEY_NAMES, "%%4432", "0x1"), ("Key", KEY_NAMES, "%%4433", "0x2"))
PROCESS_MASKS = (("0x1010", "%%4484 %%4490"), ("0x1410", "%%4484 %%4490 %%4492"), ("0x1000", "%%4490"),
                 ("0x1fffff", "%%1537 %%1538 %%1539 %%1540 %%1541 %%4480 %%4481 %%4482 %%4483 %%4484"))
USERS = tuple(f"user{i:03d}" for i in range(400))
ADMINS = ("dadmin", "svc_backup", "helpdesk1", "helpdesk2")
NET_IPS = tuple(f"10.0.{i // 250}.{i % 250 + 2}" for i in range(1000))
