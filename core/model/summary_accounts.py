"""One-line summaries of account and group management (4720-4767, 4781): the actor first, then
what happened to whom: "admmig added bob to Domain Admins". The User column shows the actor
(`core.model.summary.event_user`); the account or group changed is named here."""

from __future__ import annotations

from collections.abc import Callable

from core.model.codes import message
from core.model.event import Event
from core.model.summary_util import g, member, who

#: EventID -> what the subject did to the target account (TargetUserName).
_ACCOUNT_VERBS: dict[int, str] = {
    4720: "created user",
    4722: "enabled user",
    4723: "attempted to change the password of",
    4724: "attempted to reset the password of",
    4725: "disabled user",
    4726: "deleted user",
    4738: "changed user",
    4740: "locked out",
    4741: "created computer",
    4742: "changed computer",
    4743: "deleted computer",
    4767: "unlocked user",
    4765: "added SID history to",
    4766: "failed to add SID history to",
}

#: EventID -> (verb, group kind) for group membership changes.
_MEMBER_OPS: dict[int, tuple[str, str]] = {
    4728: ("added", "global group"),
    4729: ("removed", "global group"),
    4732: ("added", "local group"),
    4733: ("removed", "local group"),
    4746: ("added", "local distribution group"),
    4747: ("removed", "local distribution group"),
    4751: ("added", "global distribution group"),
    4752: ("removed", "global distribution group"),
    4756: ("added", "universal group"),
    4757: ("removed", "universal group"),
    4761: ("added", "universal distribution group"),
    4762: ("removed", "universal distribution group"),
}

#: EventID -> what the subject did to the group (TargetUserName names the group).
_GROUP_VERBS: dict[int, str] = {
    4727: "created global group",
    4730: "deleted global group",
    4731: "created local group",
    4734: "deleted local group",
    4735: "changed local group",
    4737: "changed global group",
    4744: "created local distribution group",
    4745: "changed local distribution group",
    4748: "deleted local distribution group",
    4749: "created global distribution group",
    4750: "changed global distribution group",
    4753: "deleted global distribution group",
    4754: "created universal group",
    4755: "changed universal group",
    4758: "deleted universal group",
    4759: "created universal distribution group",
    4760: "changed universal distribution group",
    4763: "deleted universal distribution group",
    4764: "changed the type of group",
}


def _target(e: Event) -> str:
    return who(e, "TargetUserName", "TargetSid")


def _account(eid: int) -> Callable[[Event], str]:
    verb = _ACCOUNT_VERBS[eid]

    def build(e: Event) -> str:
        if eid == 4740:
            caller = g(e, "TargetDomainName")  # the computer the lockout came from
            text = f"{_target(e)} locked out"
            return f"{text} (from {caller})" if caller else text
        text = f"{who(e, 'SubjectUserName')} {verb} {_target(e)}"
        if eid in (4720, 4738, 4741, 4742):
            uac = message(g(e, "UserAccountControl"))
            if uac and uac != "-":
                text += f" ({uac})"
        return text

    return build


def _membership(eid: int) -> Callable[[Event], str]:
    verb, kind = _MEMBER_OPS[eid]
    joiner = "to" if verb == "added" else "from"

    def build(e: Event) -> str:
        return f"{who(e, 'SubjectUserName')} {verb} {member(e)} {joiner} {kind} {_target(e)}"

    return build


def _group(eid: int) -> Callable[[Event], str]:
    verb = _GROUP_VERBS[eid]

    def build(e: Event) -> str:
        return f"{who(e, 'SubjectUserName')} {verb} {_target(e)}"

    return build


def _4739(e: Event) -> str:
    return f"{who(e, 'SubjectUserName')} changed domain policy {g(e, 'DomainPolicyChanged')} of {_target(e)}".strip()


def _4781(e: Event) -> str:
    old, new = g(e, "OldTargetUserName") or "?", g(e, "NewTargetUserName") or "?"
    return f"{who(e, 'SubjectUserName')} renamed {old} to {new}"


ACCOUNTS: dict[int, Callable[[Event], str]] = {
    **{eid: _account(eid) for eid in _ACCOUNT_VERBS},
    **{eid: _membership(eid) for eid in _MEMBER_OPS},
    **{eid: _group(eid) for eid in _GROUP_VERBS},
    4739: _4739,
    4781: _4781,
}
