"""Text on the pictures a run logs (the confusion matrix, the augmentation preview, the mistakes
sheet) in fonts that have its characters.

matplotlib's default font (DejaVu Sans) has no CJK, Thai or Devanagari glyphs: a class folder named
``猫`` was an empty box on the matrix and a ``Glyph ... missing`` warning on the console for each
character. There such a name is drawn with an installed font that has it (matplotlib falls back
glyph by glyph along a list of families); where none has it, by its class number (``class 3``):
the CSV beside the picture names it. A name too long for the plot is drawn as its two ends.
Pillow's default font has ASCII alone (``café`` came out ``caf□``), so the sheets Pillow draws use
DejaVu Sans too, from matplotlib's own files, with the same ``class N`` for what it lacks.
"""

from __future__ import annotations

import functools
from collections.abc import Set as AbstractSet
from typing import Any

import numpy as np

LONGEST = 32  # characters of a class name on the plot
LAST_RESORT = "Last Resort"  # matplotlib's font of placeholder boxes, one for every character


def matrix_figure(matrix: np.ndarray, class_names: list[str]) -> Any:
    """scikit-learn's confusion-matrix plot, sized to the classes (counts in the cells up to 40)."""
    from matplotlib.figure import Figure
    from sklearn.metrics import ConfusionMatrixDisplay

    side = min(max(4.0, 0.4 * len(class_names) + 2), 40.0)
    figure = Figure(figsize=(side, side), layout="constrained")
    labels, families = drawable(class_names)
    # A "$" is escaped: matplotlib reads text between two as math, and a folder named "$x^$" or
    # "$5 $10" would stop the run at its end with a mathtext parse error.
    display = ConfusionMatrixDisplay(matrix, display_labels=[name.replace("$", r"\$") for name in labels])
    axes = figure.subplots()
    display.plot(ax=axes, colorbar=False, xticks_rotation="vertical", include_values=len(matrix) <= 40)
    for text in [*axes.get_xticklabels(), *axes.get_yticklabels()]:
        text.set_fontfamily(families)
    return figure


def drawable(class_names: list[str]) -> tuple[list[str], list[str]]:
    """The names as the matrix can show them, and the font families to draw them with: the
    default font's, then each installed font that adds characters the names need."""
    from matplotlib import font_manager

    families, have = [font_manager.get_font(default_font()).family_name], set(characters(default_font()))
    needed = {ord(c) for name in class_names for c in name} - have
    for font in font_manager.fontManager.ttflist:
        if not needed:
            break
        if font.name.startswith(LAST_RESORT) or font.name in families:
            continue
        if adds := needed & characters(font.fname):
            families.append(font.name)
            have |= adds
            needed -= adds
    labels = [shortened(name) for name in numbered(class_names, have)]
    if len(set(labels)) < len(labels):  # two long names alike at both ends
        labels = [f"{i} {label}" for i, label in enumerate(labels)]
    return labels, families


def captions(class_names: list[str]) -> list[str]:
    """The names as the sheets Pillow draws (``caption_font``) can show them."""
    return numbered(class_names, characters(default_font()))


def numbered(class_names: list[str], have: AbstractSet[int]) -> list[str]:
    """Each name, or ``class N`` where a font with the characters ``have`` cannot draw it."""
    return [name if all(ord(c) in have for c in name) else f"class {i}" for i, name in enumerate(class_names)]


def shortened(name: str, most: int = LONGEST) -> str:
    """A name past ``most`` characters as its two ends: longer ones left the matrix no room (and
    matplotlib warned that its layout collapsed)."""
    if len(name) <= most:
        return name
    return f"{name[: most // 2 - 1]}…{name[-(most - most // 2) :]}"


def fitted(text: str, width: float) -> str:
    """``text`` as ``caption_font`` draws it in ``width`` pixels: whole, or its two ends around
    ``…`` (a cut at a fixed count of characters ran wide letters into the next tile and cut
    narrow ones short, the confidence of a prediction among them)."""
    font, shown, most = caption_font(), text, len(text)
    while most > 2 and font.getlength(shown) > width:
        most -= 1
        shown = shortened(text, most)
    return shown


def in_caption(text: str) -> str:
    """``text`` (a file's name) with each character ``caption_font`` lacks as ``?``."""
    have = characters(default_font())
    return "".join(c if ord(c) in have else "?" for c in text)


@functools.cache
def caption_font(size: int = 10) -> Any:
    from PIL import ImageFont

    return ImageFont.truetype(default_font(), size)


@functools.cache
def default_font() -> str:
    """The file of matplotlib's default font (DejaVu Sans, which matplotlib ships)."""
    from matplotlib import font_manager

    return font_manager.findfont(font_manager.FontProperties())


@functools.cache
def characters(path: str) -> frozenset[int]:
    """The code points a font file has glyphs for."""
    from matplotlib import font_manager

    return frozenset(font_manager.get_font(path).get_charmap())
