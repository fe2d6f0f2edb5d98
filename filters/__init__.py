"""Taggers and their thresholds (language, quality). Each exposes signals(doc) and verdict(signals, thresholds)."""
