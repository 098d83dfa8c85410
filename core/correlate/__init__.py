"""Correlation: process, handle and logon-session instances scoped by computer and time.

`processes`, `handles` and `sessions` are the instance trackers (PIDs and handle values are
reused: never match by value alone); `roles` is the table of what each EventID means to them;
`scan` feeds them the store's events in time order; `model` answers "what is behind this event"
with the plain data of `links`, and `tree` shows it as trees whose every link carries its
evidence and a confidence.
"""
