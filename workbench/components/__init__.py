"""Reusable pieces of the workbench pages: the span selector, turn view, label form, shortcuts, progress."""
