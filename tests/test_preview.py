"""`python -m runner.preview` writes a grid a person can look at."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from conftest import probe_cli, write_image
from PIL import Image

from runner.preview import HEADER, LABEL_WIDTH, TILE, in_turn


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
    assert result.stderr.splitlines()[-1] == f"wrote {out}: 3 images x 4 draws of aug with 5 ops"
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
        (  # before the work, not after it
            ["--out", "missing folder/grid.png"],
            "argument --out: 'missing folder/grid.png': there is no folder missing folder; make it "
            "(mkdir -p 'missing folder') first",
        ),
        (["--out", "/proc/grid.png"], "--out /proc/grid.png: cannot write it"),  # found as it writes
        # Pillow's traceback at the end, after the work: "unknown file extension: .txt".
        (["--out", "grid.txt"], "argument --out: 'grid.txt': writes a PNG; give a name ending in .png"),
        (["--out", "."], "argument --out: '.' is a folder: give a file in it, e.g. ./out.png"),
        (["--draw-count", "3"], "unrecognized option --draw-count. Did you mean '--draws'? Its options:"),
    ],
)
def test_preview_bad_arguments_are_one_line(args, expected, photos, tmp_path):
    command = [sys.executable, "-m", "runner.preview", *args, "data=dir", f"data.path={photos}", "aug=flip"]
    result = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert expected in result.stderr.splitlines()[-1]


def test_images_are_taken_from_the_classes_in_turn():
    labels = np.array([0, 0, 0, 1, 1, 2])
    assert list(in_turn(labels, lambda i: True)) == [0, 3, 5, 1, 4, 2]
    # A file that does not decode gives way to its class's next, in its class's place.
    assert list(in_turn(labels, lambda i: i != 3)) == [0, 4, 5, 1, 2]


def test_files_that_do_not_decode_are_left_out_for_the_next_of_their_class(tmp_path):
    # Each class's first file (by name) is one a run would leave out: the grid shows the next.
    for colour in ("blue", "red"):
        write_image(
            tmp_path / "data" / colour / "b.png", colour=(0, 0, 255) if colour == "blue" else (255, 0, 0)
        )
        write_image(tmp_path / "data" / colour / "c.png")
    (tmp_path / "data" / "blue" / "a.jpg").write_bytes(b"")
    (tmp_path / "data" / "red" / "a.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a JPEG after all")
    out = tmp_path / "grid.png"
    command = [sys.executable, "-m", "runner.preview", "--rows", "2", "--out", str(out), "aug=none"]
    command += ["data=dir", "data.path=data", "data.image_size=[8,8]"]
    result = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    left_out, wrote = result.stderr.splitlines()[-2:]
    assert left_out.startswith("left out, as a run leaves them out: data/blue/a.jpg: empty file (0 bytes); ")
    assert (
        "data/red/a.jpg: " in left_out
        and wrote == f"wrote {out}: 2 images as decoded (aug has no ops to draw)"
    )
    with Image.open(out) as grid:
        pixels = np.asarray(grid.convert("RGB"))
    blue, red = (pixels[HEADER + r * TILE + TILE // 2, LABEL_WIDTH + TILE // 2] for r in range(2))
    assert blue[2] > 150 > blue[0] and red[0] > 150 > red[2]  # each class's b.png, not a grey c.png
    # None that decodes: one line.
    for colour in ("blue", "red"):
        for name in ("b.png", "c.png"):
            (tmp_path / "data" / colour / name).write_bytes(b"")
    result = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    line = result.stderr.splitlines()[-1]
    assert line.startswith("runner: error: none of the 6 files of data decodes: data/blue/a.jpg: empty file")


def test_a_preview_of_no_augmentation_is_the_decoded_images_alone(photos, tmp_path):
    out = tmp_path / "decoded.png"
    args = ["--rows", "2", "--out", str(out), "data=dir", f"data.path={photos}", "aug=none"]
    said, heavy = probe_cli(*args, "data.image_size=[32,32]", cwd=tmp_path, module="runner.preview")
    assert said.splitlines()[-1] == f"wrote {out}: 2 images as decoded (aug has no ops to draw)"
    assert heavy == []  # what the resize does, in a second or two: no TensorFlow to start
    with Image.open(out) as grid:
        assert grid.size == (LABEL_WIDTH + TILE, HEADER + TILE * 2)  # no columns of identical draws
