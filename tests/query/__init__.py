"""Tests of core/query: the filter language, pivots, stacks, timelines."""
