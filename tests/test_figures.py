"""The confusion matrix's picture: class names drawn in a font that has them (``runner.figures``)."""

from __future__ import annotations

import warnings

import numpy as np


def test_a_class_name_the_default_font_lacks_is_drawn_in_one_that_has_it_or_by_number():
    # A folder named "猫" was an empty box on the plot and a "Glyph missing" warning per character.
    from runner.figures import drawable

    names = ["cat", "Ⓐ-team", "\ufdd0"]  # Ⓐ: not in DejaVu Sans, in matplotlib's STIX; U+FDD0: in no font
    labels, families = drawable(names)
    assert labels == ["cat", "Ⓐ-team", "class 2"] and families[0] == "DejaVu Sans" and len(families) > 1
    assert drawable(["cat", "dog"]) == (["cat", "dog"], ["DejaVu Sans"])


def test_long_class_names_are_drawn_as_their_two_ends_and_kept_apart():
    from runner.figures import drawable

    ends = "n01440764_" + "tench " * 10 + "(Tinca tinca)"
    assert drawable([ends, "cat"])[0] == ["n01440764_tench…ch (Tinca tinca)", "cat"]
    alike = ["a" * 20 + "1" + "z" * 20, "a" * 20 + "2" + "z" * 20]  # the same once shortened
    assert drawable(alike)[0] == [f"{i} {'a' * 15}…{'z' * 16}" for i in range(2)]


def test_the_matrix_is_drawn_without_a_warning():
    # matplotlib warns of each glyph its fonts lack, and of a layout a long name collapsed.
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from runner.figures import drawable, matrix_figure

    names = ["cat", "Ⓐ-team", "\ufdd0", "x" * 250]
    figure = matrix_figure(np.eye(4, dtype=int), names)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        FigureCanvasAgg(figure).draw()
    assert [text.get_text() for text in figure.axes[0].get_xticklabels()] == drawable(names)[0]


def test_the_sheets_pillow_draws_have_the_characters_of_their_names():
    # Pillow's default font has ASCII alone: "café" was drawn "caf□" on the preview and mistakes.
    import numpy as np

    from runner.figures import caption_font, captions, in_caption
    from runner.preview import grid

    def drawn(text: str) -> bytes:
        return bytes(caption_font().getmask(text))

    assert all(drawn(c) != drawn("\ufdd0") for c in "é→Öß")  # U+FDD0, in no font: the empty box
    assert captions(["café", "猫"]) == ["café", "class 1"]
    assert in_caption("猫_01.jpg") == "?_01.jpg"
    pixels = np.zeros((1, 8, 8, 3), np.uint8)
    assert grid(pixels, np.array([[1]]), ["猫"], [], 0) == grid(pixels, np.array([[1]]), ["class 0"], [], 0)


def test_a_caption_is_cut_to_its_tile_by_width_and_keeps_both_ends():
    # Captions were cut at 17 characters: "said Ölbaum (0.34" lost its confidence, "WWW..." overran.
    from runner.figures import caption_font, fitted, shortened
    from runner.preview import TILE

    width = caption_font().getlength
    assert fitted("said Ölbaum", TILE) == "said Ölbaum"
    assert fitted("true " + "i" * 25, TILE) == "true " + "i" * 25  # narrow: more than 17 fit
    for name in ("IMG_20231114_093222_HDR_portrait.jpg", "true " + "W" * 30):
        cut = fitted(name, TILE)
        head, tail = cut.split("…")
        assert name.startswith(head) and name.endswith(tail) and len(head) >= 4
        assert width(cut) <= TILE < width(shortened(name, len(cut) + 1))  # the most that fits
