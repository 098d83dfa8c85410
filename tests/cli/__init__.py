"""Tests of cli/: output shapes, exit statuses, what reaches a terminal."""
