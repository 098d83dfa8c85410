"""Tests of core/findings: the built-in rules, the child process, Sigma."""
