"""``python -m runner.bench``: see ``__main__``. The loaders compared (``loaders``), how each
is timed (``measure``), and the synthetic photos it can write first (``photos``)."""
