"""Correlation: process, handle and logon-session instances scoped by computer and time.

`processes`, `handles` and `sessions` are the instance trackers (PIDs and handle values are
reused: never match by value alone); `model` feeds them the store's events in time order and
answers "what is behind this event" as trees whose every link carries its evidence and a
confidence.
"""
