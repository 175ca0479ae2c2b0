"""The confusion matrix's picture: class names drawn in a font that has them (``runner.figures``)."""

from __future__ import annotations

import warnings

import numpy as np


def test_a_class_name_the_default_font_lacks_is_drawn_in_one_that_has_it_or_by_number():
    # A folder named "猫" was an empty box on the plot and a "Glyph missing" warning per character.
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from runner.figures import drawable, matrix_figure

    names = ["cat", "Ⓐ-team", "\ufdd0"]  # Ⓐ: not in DejaVu Sans, in matplotlib's STIX; U+FDD0: in no font
    labels, families = drawable(names)
    assert labels == ["cat", "Ⓐ-team", "class 2"] and families[0] == "DejaVu Sans" and len(families) > 1
    assert drawable(["cat", "dog"]) == (["cat", "dog"], ["DejaVu Sans"])
    figure = matrix_figure(np.eye(3, dtype=int), names)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns of each glyph its fonts lack
        FigureCanvasAgg(figure).draw()
    assert [text.get_text() for text in figure.axes[0].get_xticklabels()] == labels
