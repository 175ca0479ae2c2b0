"""`python -m runner.check`: a run's data check (skipped files, copies, counts), without the run."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
from conftest import (
    MULTI_LABEL,
    REGRESSION,
    error_lines,
    messy_folder,
    photo_folder,
    probe_cli,
    run_cli,
    sizes_folder,
    write_image,
)


def check_here(capsys, out: Path, *overrides: str) -> str:
    """runner.check in this process: what it prints."""
    from runner.check import check

    capsys.readouterr()
    check(out, list(overrides))
    return capsys.readouterr().out


def test_a_messy_folder_is_checked_as_a_run_would_read_it(tmp_path, capsys):
    root, bad, good = messy_folder(tmp_path / "pets")
    shutil.copy(root / "cat" / "RGB0.jpg", root / "dog" / "same_photo.jpg")  # one photo, two labels
    for i in range(24):  # cats outnumber dogs 4 to 1
        write_image(root / "cat" / f"more{i}.png", (20, 20), (30 + i, 30, 30))
    result = run_cli("data=dir", f"data.path={root}", "--out", "report", cwd=tmp_path, module="runner.check")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "cpu_feature_guard" not in result.stderr  # TensorFlow's C++ INFO lines, as in a run
    with (tmp_path / "report" / "skipped.csv").open() as file:
        assert {row["path"] for row in csv.DictReader(file)} == bad
    with (tmp_path / "report" / "duplicates.csv").open() as file:
        copies = {row["path"] for row in csv.DictReader(file)}
    assert copies == {str(root / "cat" / "RGB0.jpg"), str(root / "dog" / "same_photo.jpg")}
    with (tmp_path / "report" / "split.csv").open() as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == good + 25
    lines = result.stdout.splitlines()
    for name in ("cat", "dog"):  # the table: training and validation images per class
        counts = [sum(r["label"] == name and r["split"] == s for r in rows) for s in ("train", "val")]
        assert next(line for line in lines if line.startswith(f"{name} ")).split()[1:] == [
            str(n) for n in counts
        ]
    assert any(line.startswith("imbalanced: 'cat' has") and "class_weight=balanced" in line for line in lines)
    weighted = check_here(
        capsys, tmp_path / "weighted", "data=dir", f"data.path={root}", "trainer.class_weight=balanced"
    )
    assert "imbalanced" not in weighted and "images in 2 classes" in weighted  # what it would suggest is set
    # messy_folder's images are 40 high, 48..104 wide; the extra cats 20x20: what the resize meets.
    assert (
        "image sizes (height×width): median 20×20, heights 20–40, widths 20–104; data.image_size=[64, 64]"
        in lines
    )
    said = f"{good + 25} images in 2 classes; {len(bad)} skipped, 1 byte-identical extra copy; written to"
    assert f"{said} report/" in lines
    assert lines[-1] == f"train on them: python -m runner data=dir data.path={root}"
    assert not (tmp_path / "mlflow.db").exists()  # a check, not a run


def test_bad_input_is_one_line_and_help_is_fast(tmp_path):
    output, heavy = probe_cli("--help", cwd=tmp_path, module="runner.check")
    assert "--out" in output and heavy == []
    result = run_cli("data=dir", f"data.path={tmp_path / 'nowhere'}", cwd=tmp_path, module="runner.check")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    [line] = error_lines(result)
    assert "data.path" in line and "nowhere" in line


def test_a_check_decodes_and_splits_as_a_run_without_tensorflow_or_mlflow(tmp_path):
    # Seconds sooner: the check needs neither (its memory cache is a NumPy array, not a variable).
    root = photo_folder(tmp_path / "pets", per_class=4)
    (root / "cat" / "notes.png").write_text("not an image")
    output, heavy = probe_cli("data=dir", f"data.path={root}", cwd=tmp_path, module="runner.check")
    assert "12 images in 3 classes; 1 skipped" in output and heavy == []


def test_a_validation_folder_without_some_classes_is_warned_of(tmp_path):
    for name in ("cat", "dog"):
        for i in range(3):
            write_image(tmp_path / "train" / name / f"{i}.png", colour=(40 * i, 90, 90))
    write_image(tmp_path / "val" / "cat" / "0.png")
    args = ("data=dir", f"data.path={tmp_path / 'train'}", f"data.val_path={tmp_path / 'val'}")
    result = run_cli(*args, cwd=tmp_path, module="runner.check")
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stderr.splitlines()  # said as the check's other lines are
    assert any(
        line.startswith("runner: no validation images of 'dog': val_* metrics leave it out.")
        for line in lines
    )
    assert "runner: data.batch_size=32 is more than the 6 training images" in result.stderr


def test_unchecked_files_that_are_no_images_are_left_out_of_the_sizes(tmp_path):
    # With data.verify=none and data.cache=none nothing reads the files before the summary of
    # their sizes, which opened each with Pillow and ended in its traceback on a text file.
    root = photo_folder(tmp_path / "pets", per_class=3)
    (root / "cat" / "notes.png").write_text("not an image")
    args = ("data=dir", f"data.path={root}", "data.verify=none", "data.cache=none")
    result = run_cli(*args, "data.validation_split=0.5", cwd=tmp_path, module="runner.check")
    assert result.returncode == 0, result.stderr[-3000:]
    # photo_folder's first three sizes (h×w): 30×40, 64×64, 50×30, one of each per class.
    assert "image sizes (height×width): median 50×40, heights 30–64, widths 30–64;" in result.stdout


def test_several_classes_per_image_are_counted_in_each_and_get_no_class_weights(tmp_path):
    cells = ["a"] * 30 + ["a|b"] * 6 + ["b"] * 4  # 36 of a, 10 of b: one class each would be "imbalanced"
    for i in range(len(cells)):
        write_image(tmp_path / "squares" / f"{i:03d}.jpg", colour=(6 * i, 90, 90))
    lines = [f"{i:03d}.jpg,{cell}" for i, cell in enumerate(cells)]
    (tmp_path / "squares" / "labels.csv").write_text("path,label\n" + "\n".join(lines) + "\n")
    result = run_cli(*MULTI_LABEL, cwd=tmp_path, module="runner.check")
    assert result.returncode == 0, result.stderr[-3000:]
    with (tmp_path / "data_check" / "split.csv").open() as file:
        split = {row["path"]: row for row in csv.DictReader(file)}
    for name in ("a", "b"):  # an image of two classes counts in both
        counts = [
            sum(name in r["label"].split("|") and r["split"] == part for r in split.values())
            for part in ("train", "val")
        ]
        row = next(line for line in result.stdout.splitlines() if line.startswith(f"{name} "))
        assert row.split()[1:] == [str(n) for n in counts]
    assert sum(counts) == 10 and "imbalanced" not in result.stdout  # class weights are refused


def test_a_number_per_image_is_checked_by_its_spread_in_each_split(tmp_path):
    truth = sizes_folder(tmp_path / "sizes", count=60)
    result = run_cli(*REGRESSION, "--out", "report", cwd=tmp_path, module="runner.check")
    assert result.returncode == 0, result.stderr[-3000:]
    with (tmp_path / "report" / "split.csv").open() as file:
        split = {row["path"].rsplit("/", 1)[1]: row for row in csv.DictReader(file)}
    with (tmp_path / "report" / "numbers.csv").open() as file:
        summary = {row["split"]: row for row in csv.DictReader(file)}
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["split", "images", "mean", "std", "min", "q25", "median", "q75", "max"]
    for part in ("train", "val"):
        numbers = [truth[name] for name, row in split.items() if row["split"] == part]
        assert float(summary[part]["mean"]) == pytest.approx(sum(numbers) / len(numbers))
        assert float(summary[part]["max"]) == max(numbers)
        assert next(line for line in lines if line.startswith(f"{part} ")).split() == list(
            summary[part].values()
        )
    low, high = min(truth.values()), max(truth.values())
    assert f"60 images with numbers from {low:g} to {high:g}; 0 skipped" in result.stdout
    assert not (tmp_path / "report" / "class_counts.csv").exists() and "imbalanced" not in result.stdout
