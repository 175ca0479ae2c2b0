"""``python -m runner.preview [--rows N] [--draws K] [--out FILE] [overrides]``: look at the augmentation.

Writes a PNG grid: one row per source image (its class name at the left), the image as decoded
in the first column, then K augmented draws. ``train`` logs the same grid as ``aug/preview.png``
at the start of every run that has augmentation. Takes the same overrides as ``python -m runner``.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from collections.abc import Callable, Iterator

import numpy as np
from PIL import Image, ImageDraw, ImageOps

from runner.cli import described, options_then_overrides, png_file, positive_int
from runner.errors import RunnerError
from runner.words import counted, some

TILE = 96  # grid cell side in pixels; small images are scaled up (nearest) to be visible
LABEL_WIDTH = 110
HEADER = 20


def in_turn(labels: np.ndarray, takes: Callable[[int], bool]) -> Iterator[int]:
    """The positions ``takes`` takes, the classes in turn so that each shows up among the first: a
    file it refuses gives way to the next of the same class, which keeps the class's place."""
    by_class = [list(np.flatnonzero(labels == c)) for c in np.unique(labels)]
    while any(by_class):
        for members in by_class:
            while members:
                if takes(position := int(members.pop(0))):
                    yield position
                    break


def tile(pixels: np.ndarray) -> Image.Image:
    image = Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels).convert("RGB")
    return ImageOps.contain(image, (TILE, TILE), Image.Resampling.NEAREST)


def grid(
    images: np.ndarray, members: np.ndarray, class_names: list[str], stack: list, draws: int
) -> Image.Image:
    """Rows: ``images``, captioned with their classes (``members``: images x classes, 0/1; for a
    regression, no ``class_names`` and images x 1, their numbers); columns: the image, then
    ``draws`` passes through the augmentation ``stack``."""
    from runner.figures import caption_font, captions, fitted

    columns = [images]
    if draws:  # TensorFlow: not for the decoded images alone
        from runner.augment import apply

        augment = apply(stack)
        targets = members.astype(np.float32)  # what a mixing op mixes
        columns += [augment(images, targets, step)[0].numpy() for step in range(draws)]
    sheet = Image.new("RGB", (LABEL_WIDTH + TILE * len(columns), HEADER + TILE * len(images)), "white")
    draw = ImageDraw.Draw(sheet)
    font, names = caption_font(), captions(class_names)
    for c, title in enumerate(["decoded"] + [f"draw {d + 1}" for d in range(draws)]):
        draw.text((LABEL_WIDTH + c * TILE + 4, 4), title, fill="black", font=font)
    for r, row in enumerate(members):
        label = " ".join(names[c] for c in np.flatnonzero(row)) if names else f"{row[0]:.4g}"
        name = fitted(label, LABEL_WIDTH - 8)
        draw.text((4, HEADER + r * TILE + TILE // 2), name, fill="black", font=font)
        for c, column in enumerate(columns):
            sheet.paste(tile(column[r]), (LABEL_WIDTH + c * TILE, HEADER + r * TILE))
    return sheet


def sample(cfg, index, rows: int) -> tuple[np.ndarray, np.ndarray, dict[str, str]]:
    """Decoded images of the first ``rows`` files of ``index`` that decode, one class (or range of
    numbers) after another; their classes (images x classes, 0/1) or numbers (images x 1); and
    file -> why for those that did not (left out, as a run's cache leaves them out)."""
    from runner.decode import Decoder
    from runner.fill import why

    decoder = Decoder.of(cfg)
    items = index.arrays or index.paths
    images, left_out = [], {}

    def decodes(i: int) -> bool:
        try:
            images.append(decoder(items[i]))
        except Exception as err:  # noqa: BLE001 - each decoder raises its own types
            left_out[index.paths[i]] = why(items[i], err)
            return False
        return True

    positions = list(itertools.islice(in_turn(index.labels, decodes), rows))
    if not images:
        raise RunnerError(f"none of the {counted(len(left_out), 'file')} of data decodes: {listed(left_out)}")
    labels = index.members[positions] if index.numbers is None else index.numbers[positions, None]
    return np.stack(images), labels, left_out


def listed(left_out: dict[str, str]) -> str:
    return some([f"{file}: {reason}" for file, reason in left_out.items()], 3, "; ")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m runner.preview", description=described(__doc__))
    parser.add_argument("--rows", type=positive_int, default=6, help="source images, one per row")
    parser.add_argument("--draws", type=positive_int, default=5, help="augmented draws per image")
    parser.add_argument("--out", type=png_file, default="aug_preview.png", help="PNG file to write")
    args, overrides = options_then_overrides(parser, argv)
    from runner.__main__ import expand_home, reported

    reported(write, args, expand_home(overrides), trains=False)


def write(args: argparse.Namespace, overrides: list[str]) -> None:
    from runner.config import compose
    from runner.sources import index_of

    cfg = compose(overrides)
    index = index_of(cfg.data)
    stack = []
    if any(op is not None for op in cfg.aug.ops.values()):  # aug=none starts no TensorFlow
        from runner import augment

        stack = augment.layers(cfg.aug, cfg.trainer.seed)
    draws = args.draws if stack else 0  # no ops: the decoded images alone (what the resize does)
    images, labels, left_out = sample(cfg.data, index, args.rows)
    if left_out:
        print(f"left out, as a run leaves them out: {listed(left_out)}", file=sys.stderr)
    picture = grid(images, labels, index.class_names, stack, draws)
    try:
        picture.save(args.out)
    except OSError as err:
        raise RunnerError(
            f"--out {args.out}: cannot write it ({err.strerror or err}); give a writable path."
        ) from err
    shown = (
        f"x {counted(draws, 'draw')} of aug with {counted(len(stack), 'op')}"
        if stack
        else "as decoded (aug has no ops to draw)"
    )
    print(f"wrote {args.out}: {len(images)} images {shown}", file=sys.stderr)


if __name__ == "__main__":
    from runner.__main__ import run_command

    run_command(main)
