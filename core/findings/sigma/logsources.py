"""Sigma logsources -> the events of this store they describe, in one table.

A Sigma rule names a `logsource` (product, category, service); the store knows channels and
EventIDs. `SOURCES` says, for each Windows category or service, which (channel, EventIDs) hold
its events and how their fields are named. Two sources differ from the rule's field names:
Security 4688 stands in for Sysmon 1 under `process_creation` (`MAP_4688`, the mapping the field
uses: hayabusa, chainsaw, SigmaHQ's windows-audit pipeline); every other source names its
fields as the rules do. A logsource missing here is unsupported: its rules are listed as
skipped with that reason, never silently dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

SYSMON = "Microsoft-Windows-Sysmon/Operational"
POWERSHELL = "Microsoft-Windows-PowerShell/Operational"
POWERSHELL_CLASSIC = "Windows PowerShell"
#: The channel of the source of a logsource naming only `product: windows`: every event (no
#: Windows channel is named `*`; the engine reads every event for it, `sigma_reads._where`).
ANY_CHANNEL = "*"


@dataclass(frozen=True, slots=True)
class Source:
    """Events of one channel (and EventIDs, None = all) that a logsource covers. `mapping`
    names the field mapping its rules go through ("" = fields as the rules name them)."""

    channel: str
    event_ids: tuple[int, ...] | None = None
    mapping: str = ""

    @property
    def label(self) -> str:
        ids = "" if self.event_ids is None else " " + "/".join(map(str, self.event_ids))
        return f"{'every channel' if self.channel == ANY_CHANNEL else self.channel}{ids}"


def _sysmon(*ids: int) -> tuple[Source, ...]:
    return (Source(SYSMON, ids),)


#: Windows `category` -> the sources of its events.
CATEGORIES: dict[str, tuple[Source, ...]] = {
    "process_creation": (Source(SYSMON, (1,)), Source("Security", (4688,), "4688")),
    "file_change": _sysmon(2),
    "network_connection": _sysmon(3),
    "sysmon_status": _sysmon(4, 16),
    "process_termination": _sysmon(5),
    "driver_load": _sysmon(6),
    "image_load": _sysmon(7),
    "create_remote_thread": _sysmon(8),
    "raw_access_thread": _sysmon(9),
    "process_access": _sysmon(10),
    "file_event": _sysmon(11),
    "registry_add": _sysmon(12),
    "registry_delete": _sysmon(12),
    "registry_set": _sysmon(13),
    "registry_rename": _sysmon(14),
    "registry_event": _sysmon(12, 13, 14),
    "create_stream_hash": _sysmon(15),
    "pipe_created": _sysmon(17, 18),
    "wmi_event": _sysmon(19, 20, 21),
    "dns_query": _sysmon(22),
    "file_delete": _sysmon(23, 26),
    "clipboard_capture": _sysmon(24),
    "process_tampering": _sysmon(25),
    "file_delete_detected": _sysmon(26),
    "file_block_executable": _sysmon(27),
    "file_block_shredding": _sysmon(28),
    "file_executable_detected": _sysmon(29),
    "sysmon_error": _sysmon(255),
    "ps_module": (Source(POWERSHELL, (4103,)),),
    "ps_script": (Source(POWERSHELL, (4104,)),),
    "ps_classic_start": (Source(POWERSHELL_CLASSIC, (400,)),),
    "ps_classic_provider_start": (Source(POWERSHELL_CLASSIC, (600,)),),
    "ps_classic_script": (Source(POWERSHELL_CLASSIC, (800,)),),
}

#: Windows `service` -> channel (the names SigmaHQ's windows pipeline uses).
SERVICES: dict[str, tuple[str, ...]] = {
    "security": ("Security",),
    "system": ("System",),
    "application": ("Application",),
    "sysmon": (SYSMON,),
    "powershell": (POWERSHELL,),
    "powershell-classic": (POWERSHELL_CLASSIC,),
    "taskscheduler": ("Microsoft-Windows-TaskScheduler/Operational",),
    "wmi": ("Microsoft-Windows-WMI-Activity/Operational",),
    "dns-server": ("DNS Server",),
    "dns-server-analytic": ("Microsoft-Windows-DNS-Server/Analytical",),
    "dns-client": ("Microsoft-Windows-DNS Client Events/Operational",),
    "driver-framework": ("Microsoft-Windows-DriverFrameworks-UserMode/Operational",),
    "ntlm": ("Microsoft-Windows-NTLM/Operational",),
    "windefend": ("Microsoft-Windows-Windows Defender/Operational",),
    "printservice-admin": ("Microsoft-Windows-PrintService/Admin",),
    "printservice-operational": ("Microsoft-Windows-PrintService/Operational",),
    "smbclient-security": ("Microsoft-Windows-SmbClient/Security",),
    "smbclient-connectivity": ("Microsoft-Windows-SmbClient/Connectivity",),
    "smbserver-connectivity": ("Microsoft-Windows-SMBServer/Connectivity",),
    "applocker": (
        "Microsoft-Windows-AppLocker/MSI and Script",
        "Microsoft-Windows-AppLocker/EXE and DLL",
        "Microsoft-Windows-AppLocker/Packaged app-Deployment",
        "Microsoft-Windows-AppLocker/Packaged app-Execution",
    ),
    "msexchange-management": ("MSExchange Management",),
    "microsoft-servicebus-client": ("Microsoft-ServiceBus-Client",),
    "ldap": ("Microsoft-Windows-LDAP-Client/Debug",),
    "codeintegrity-operational": ("Microsoft-Windows-CodeIntegrity/Operational",),
    "firewall-as": ("Microsoft-Windows-Windows Firewall With Advanced Security/Firewall",),
    "bits-client": ("Microsoft-Windows-Bits-Client/Operational",),
    "security-mitigations": (
        "Microsoft-Windows-Security-Mitigations/Kernel Mode",
        "Microsoft-Windows-Security-Mitigations/User Mode",
    ),
    "diagnosis-scripted": ("Microsoft-Windows-Diagnosis-Scripted/Operational",),
    "shell-core": ("Microsoft-Windows-Shell-Core/Operational",),
    "openssh": ("OpenSSH/Operational",),
    "lsa-server": ("Microsoft-Windows-LSA/Operational",),
    "appxdeployment-server": ("Microsoft-Windows-AppXDeploymentServer/Operational",),
    "appxpackaging-om": ("Microsoft-Windows-AppxPackaging/Operational",),
    "appmodel-runtime": ("Microsoft-Windows-AppModel-Runtime/Admin",),
    "capi2": ("Microsoft-Windows-CAPI2/Operational",),
    "certificateservicesclient-lifecycle-system": (
        "Microsoft-Windows-CertificateServicesClient-Lifecycle-System/Operational",
    ),
    "terminalservices-localsessionmanager": (
        "Microsoft-Windows-TerminalServices-LocalSessionManager/Operational",
    ),
    "iis-configuration": ("Microsoft-IIS-Configuration/Operational",),
    "kernel-shimengine": ("Microsoft-Windows-Kernel-ShimEngine/Operational",),
    "bitlocker": ("Microsoft-Windows-BitLocker/BitLocker Management",),
    "vhdmp": ("Microsoft-Windows-VHDMP/Operational",),
}

#: Sigma field -> (4688 field, how its value is turned into the Sysmon form). Only these
#: fields (and the System ones) exist on a 4688 seen as process_creation.
MAP_4688: dict[str, tuple[str, str]] = {
    "Image": ("NewProcessName", ""),
    "ParentImage": ("ParentProcessName", ""),
    "CommandLine": ("CommandLine", ""),
    "ProcessId": ("NewProcessId", "int"),
    "ParentProcessId": ("ProcessId", "int"),
    "IntegrityLevel": ("MandatoryLabel", "label"),
    "User": ("SubjectUserName", "user"),
    "LogonId": ("SubjectLogonId", ""),
}
#: Mandatory-label SIDs (4688) -> the integrity level names Sysmon writes.
LABELS = {
    "S-1-16-0": "Untrusted",
    "S-1-16-4096": "Low",
    "S-1-16-8192": "Medium",
    "S-1-16-8448": "Medium",
    "S-1-16-12288": "High",
    "S-1-16-16384": "System",
}
#: System fields a rule may name, on every source (the store's own columns).
SYSTEM_FIELDS = ("EventID", "Channel", "Provider_Name", "Computer")


def sources_for(product: str | None, category: str | None, service: str | None) -> tuple[Source, ...] | str:
    """The sources a logsource covers, or why it is not supported (a one-line reason). Its
    names compare case-insensitively (`product: Windows`, `service: System`), as the rules'
    values do."""
    if product is not None and product.lower() != "windows":
        return f"product {product} (only Windows logs are loaded)"
    if category is not None:
        found = CATEGORIES.get(category.lower())
        if found is None:
            return f"category {category} has no Windows event source here"
        if service is not None:
            chans = SERVICES.get(service.lower())
            if chans is None:
                return f"service {service} is not known"
            found = tuple(s for s in found if s.channel in chans)
        return found
    if service is not None:
        chans = SERVICES.get(service.lower())
        if chans is None:
            return f"service {service} is not known"
        return tuple(Source(c) for c in chans)
    if product is not None:  # (`product: windows` alone: every Windows event, per the spec)
        return (Source(ANY_CHANNEL),)
    return "logsource names no product, category or service"


def map_4688(data: dict[str, str]) -> dict[str, str]:
    """A 4688's EventData as the process_creation fields (`MAP_4688`)."""
    out: dict[str, str] = {}
    for name, (field, how) in MAP_4688.items():
        value = data.get(field)
        if value is None:
            continue
        if how == "int":
            try:
                value = str(int(value, 0))
            except ValueError:
                pass
        elif how == "label":
            value = LABELS.get(value.upper(), value)
        elif how == "user":
            domain = data.get("SubjectDomainName", "")
            value = f"{domain}\\{value}" if domain and domain != "-" else value
        out[name] = value
    return out
