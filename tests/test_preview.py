"""`python -m runner.preview` writes a grid a person can look at."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from runner.preview import HEADER, LABEL_WIDTH, TILE, pick


def test_preview_cli_writes_the_expected_grid(photos, tmp_path):
    out = tmp_path / "grid.png"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "runner.preview",
            "--rows",
            "3",
            "--draws",
            "4",
            "--out",
            str(out),
            "data=dir",
            f"data.path={photos}",
            "aug=standard",
            "data.image_size=[32,32]",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    with Image.open(out) as grid:
        assert grid.format == "PNG"
        assert grid.size == (LABEL_WIDTH + TILE * (1 + 4), HEADER + TILE * 3)
        pixels = np.asarray(grid.convert("RGB"))
    row = pixels[HEADER : HEADER + TILE]
    decoded, first_draw = (
        row[:, LABEL_WIDTH : LABEL_WIDTH + TILE],
        row[:, LABEL_WIDTH + TILE : LABEL_WIDTH + 2 * TILE],
    )
    assert decoded.std() > 0 and not np.array_equal(decoded, first_draw)


def test_preview_bad_override_is_one_line(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "runner.preview", "aug=standrd"], capture_output=True, text=True, cwd=tmp_path
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "Did you mean 'standard'?" in result.stderr


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--rows", "0"], "argument --rows: '0' is not a whole number of at least 1"),
        (["--out", "missing-folder/grid.png"], "--out missing-folder/grid.png: cannot write it"),
        (["--draw-count", "3"], "unrecognized option --draw-count. Did you mean '--draws'? Its options:"),
    ],
)
def test_preview_bad_arguments_are_one_line(args, expected, photos, tmp_path):
    command = [sys.executable, "-m", "runner.preview", *args, "data=dir", f"data.path={photos}", "aug=flip"]
    result = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert expected in result.stderr.splitlines()[-1]


def test_pick_takes_classes_in_turn():
    labels = np.array([0, 0, 0, 1, 1, 2])
    assert pick(labels, 4) == [0, 3, 5, 1]
    assert sorted(pick(labels, 10)) == list(range(6))


def test_a_preview_of_no_augmentation_is_the_decoded_images_alone(photos, tmp_path):
    out = tmp_path / "decoded.png"
    command = [sys.executable, "-m", "runner.preview", "--rows", "2", "--out", str(out)]
    command += ["data=dir", f"data.path={photos}", "aug=none", "data.image_size=[32,32]"]
    result = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stderr.splitlines()[-1] == f"wrote {out}: 2 images as decoded (aug has no ops to draw)"
    with Image.open(out) as grid:
        assert grid.size == (LABEL_WIDTH + TILE, HEADER + TILE * 2)  # no columns of identical draws
