"""Tests of core/model: events, value decoding, summaries."""
