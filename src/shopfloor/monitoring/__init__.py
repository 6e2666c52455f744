"""Drift of a deployed model's inputs and outputs against its training profile.

``profile`` (what training looked like), ``numeric`` / ``categorical`` / ``embeddings`` /
``multivariate`` (the statistics), ``compare`` and ``report`` (one window against a profile,
ranked and in words), ``thresholds`` (defaults and the multiple-test correction), ``plot`` (PNG).
Nothing here names a task family: the layers above hand in tables, model outputs and embeddings.
"""
