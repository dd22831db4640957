"""Measuring retrieval on a question set: the metrics and the runs behind `zhiku eval`."""
