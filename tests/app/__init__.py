"""Tests of tui/: the app and its views driven by Textual's Pilot, and the SVG snapshots."""
