"""Tests of core/correlate: processes, handles, sessions, Sysmon, roles, trees, the persisted model."""
