"""Tests of core/report: marks and notes (the case), exports."""
