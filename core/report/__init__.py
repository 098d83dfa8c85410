"""What the analyst keeps and hands on: the case file of marks and notes (`case`), and exports
of views, trees and marks as CSV, JSON lines or Markdown (`export`).
"""
