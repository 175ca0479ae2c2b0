"""Sources: what gets indexed, what gets skipped and why, and the errors for bad input."""

from __future__ import annotations

import csv
import inspect
import logging
import os
import re
import shutil
import subprocess
import sys
import unicodedata
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from conftest import (
    at_once,
    compose,
    dir_source,
    error_lines,
    logged_model,
    messy_folder,
    mlflow_runs,
    photo_folder,
    run_cli,
    sizes_folder,
    train_cli,
    write_image,
)
from PIL import Image

from runner.decode import Decoder
from runner.errors import RunnerError
from runner.fill import decode_batch
from runner.schemas.data import Cache, ColorMode, DataConfig, Interpolation, LabelMode, LabelsFrom, Verify
from runner.sources import DigitsSource, FileIndex, GeneratorSource, GlobSource
from runner.sources.index import NOT_UTF8
from runner.split import check_splittable


def test_dir_source_indexes_class_folders_in_order(tmp_path):
    photo_folder(tmp_path, per_class=3)
    index = dir_source(tmp_path).index()
    assert index.class_names == ["cat", "dog", "owl"]
    assert len(index) == 9 and index.labels.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert all(
        Path(p).parent.name == index.class_names[y] for p, y in zip(index.paths, index.labels, strict=True)
    )


def test_class_names_fix_order_and_select_a_subset(tmp_path):
    photo_folder(tmp_path, per_class=2)
    index = dir_source(tmp_path, class_names=["owl", "cat"]).index()
    assert index.class_names == ["owl", "cat"]
    assert {Path(p).parent.name for p in index.paths} == {"owl", "cat"}
    assert index.labels.tolist() == [0, 0, 1, 1]
    # A folder copied from a Mac ("café": e and an accent) is the class typed here as one letter.
    write_image(tmp_path / unicodedata.normalize("NFD", "café") / "a.png")
    typed = unicodedata.normalize("NFC", "café")
    index = dir_source(tmp_path, class_names=[typed, "cat"]).index()
    assert index.class_names == [typed, "cat"] and index.labels.tolist() == [0, 1, 1]


def test_unknown_class_name_suggests_the_folder(tmp_path):
    photo_folder(tmp_path, per_class=1)
    with pytest.raises(RunnerError, match="no subfolder 'dgo'.*Did you mean 'dog'"):
        dir_source(tmp_path, class_names=["dgo"]).index()
    with pytest.raises(RunnerError) as refused:  # a class folder given as data.path
        dir_source(tmp_path / "dog", class_names=["dog"]).index()
    assert (
        str(refused.value)
        == f"data.class_names: no subfolder 'dog' in '{tmp_path / 'dog'}'. It has no subfolders."
    )


def test_a_held_out_folder_that_is_the_training_or_validation_folder_is_refused(tmp_path):
    # Trained on, then validated on the same images: a run said val_accuracy 1.0 of what it remembered.
    photo_folder(tmp_path / "pets", per_class=2)
    photo_folder(tmp_path / "kept", per_class=1)
    for given, key, same in [
        (
            {"val_path": f"{tmp_path}/pets/"},
            "data.val_path",
            "data.path, so every validation image would be a training",
        ),
        (
            {"test_path": str(tmp_path / "pets")},
            "data.test_path",
            "data.path, so every test image would be a training",
        ),
        (
            {"val_path": str(tmp_path / "kept"), "test_path": str(tmp_path / "kept" / ".")},
            "data.test_path",
            "data.val_path, so every test image would be a validation",
        ),
    ]:
        with pytest.raises(RunnerError) as refused:
            dir_source(tmp_path / "pets", **given).index()
        assert str(refused.value).startswith(
            f"{key}={given[key.split('.')[1]]}: the same folder as {same} image"
        )
    index = dir_source(tmp_path / "pets", val_path=str(tmp_path / "kept")).index()
    assert sorted(index.split) == ["train"] * 6 + ["val"] * 3


def test_header_check_skips_bad_files_with_reasons(tmp_path):
    root, bad, good = messy_folder(tmp_path)
    index = dir_source(root, cache=Cache.none).index()
    reasons = dict(index.skipped)
    assert "empty file" in reasons[str(root / "cat" / "empty.jpg")]
    assert "not an image" in reasons[str(root / "cat" / "text.jpg")]
    assert "extension" in reasons[str(root / "dog" / "README.txt")]
    # Headers of the truncated PNG and the corrupt JPEG are fine: the decode catches them later.
    assert len(index) == good + 2


def test_with_a_cache_building_it_is_the_check(tmp_path):
    from runner import pipeline

    root, bad, good = messy_folder(tmp_path / "messy")
    source = dir_source(root, validation_split=0.0, cache=Cache.memory, image_size=[16, 16])
    index = source.index()
    assert len(index) == good + 4  # only the extension is checked before decoding
    reasons = dict(pipeline.build(source, index, seed=0).index.skipped)
    assert set(reasons) == bad
    assert "empty file" in reasons[str(root / "cat" / "empty.jpg")]
    assert "not an image" in reasons[str(root / "cat" / "text.jpg")]
    assert "cannot decode" in reasons[str(root / "dog" / "truncated.png")]


def test_full_check_also_finds_truncated_and_corrupt_data(tmp_path):
    root, bad, good = messy_folder(tmp_path)
    index = dir_source(root, verify=Verify.full).index()
    assert {p for p, _ in index.skipped} == bad
    assert "cannot decode" in dict(index.skipped)[str(root / "dog" / "truncated.png")]
    assert len(index) == good


def test_empty_class_folder_is_left_out_and_all_bad_class_is_an_error(tmp_path):
    photo_folder(tmp_path, per_class=2)
    (tmp_path / "empty").mkdir()
    (tmp_path / "finder").mkdir()  # what opening a folder in macOS's Finder leaves is no image
    (tmp_path / "finder" / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    assert dir_source(tmp_path).index().class_names == ["cat", "dog", "owl"]
    (tmp_path / "empty" / "x.jpg").write_bytes(b"")
    # The refusal names the files it skipped: no data/skipped.csv is written for a refused run.
    said = re.escape(
        "class 'empty' has no usable image. Add images, or leave the class out: data.class_names="
        f"[cat,dog,owl]. (1 file skipped: 1 empty file (0 bytes): {tmp_path}/empty/x.jpg.)"
    )
    with pytest.raises(RunnerError, match=said):
        dir_source(tmp_path, cache=Cache.none).index()  # found by the header check
    from runner import pipeline

    cached = dir_source(tmp_path, image_size=[8, 8])
    with pytest.raises(RunnerError, match=said):
        pipeline.build(cached, cached.index(), seed=0)  # found by building the cache
    (tmp_path / "void").mkdir()
    (tmp_path / "void" / "y.jpg").write_bytes(b"")
    with pytest.raises(
        RunnerError, match="classes 'empty', 'void' have no usable image. Add images, or leave them"
    ):
        dir_source(tmp_path, cache=Cache.none).index()


def test_a_class_folder_given_as_the_folder_of_classes_says_it_holds_images_itself(tmp_path):
    photo_folder(tmp_path, per_class=2)
    said = f"data.path: '{tmp_path / 'cat'}' has no class subfolders with files. It holds 2 images "
    with pytest.raises(
        RunnerError, match=re.escape(f"{said}itself, not in subfolders: give the folder")
    ) as refused:
        dir_source(tmp_path / "cat").index()
    assert "Put each" not in str(refused.value)  # said once
    (tmp_path / "void").mkdir()
    with pytest.raises(RunnerError, match="has no class subfolders with files. Put each") as refused:
        dir_source(tmp_path / "void").index()
    assert "It holds" not in str(refused.value)


def test_val_path_fixes_the_split(tmp_path):
    photo_folder(tmp_path / "train", per_class=3)
    photo_folder(tmp_path / "val", per_class=1)
    index = dir_source(tmp_path / "train", val_path=str(tmp_path / "val")).index()
    assert index.split.tolist() == ["train"] * 9 + ["val"] * 3


def test_given_labels_and_a_held_out_folder_do_not_mix(tmp_path):
    photo_folder(tmp_path / "train", per_class=1)
    photo_folder(tmp_path / "test", per_class=1)
    source = dir_source(tmp_path / "train", labels=[0, 1, 0], test_path=str(tmp_path / "test"))
    with pytest.raises(
        RunnerError, match="data.test_path: its images are labelled by their class subfolders"
    ):
        source.index()


def test_a_held_out_subfolder_that_is_no_class_is_said(tmp_path, caplog):
    photo_folder(tmp_path / "train", per_class=2)
    photo_folder(tmp_path / "test", per_class=1)
    write_image(tmp_path / "test" / "zebra" / "z.jpg")
    (tmp_path / "test" / "yak").mkdir()  # empty: nothing to say about it
    index = dir_source(tmp_path / "train", test_path=str(tmp_path / "test")).index()
    assert len(index) == 6 + 3  # zebra's image is not used
    assert "data.test_path: subfolder 'zebra' is not a class of data.path (cat, dog, owl)" in caplog.text
    assert "'yak'" not in caplog.text
    caplog.clear()
    dir_source(tmp_path / "train", test_path=str(tmp_path / "test"), class_names=["cat", "dog"]).index()
    assert "zebra" not in caplog.text  # classes picked on purpose: the others are left out quietly


def test_a_glob_pooling_split_folders_says_so(tmp_path, caplog):
    for split in ("train", "test"):
        photo_folder(tmp_path / split, per_class=1)
    index = GlobSource(pattern=str(tmp_path / "**" / "*.*")).index()
    assert index.class_names == ["cat", "dog", "owl"] and len(index) == 6
    assert "the files lie under folders named test, train and are pooled" in caplog.text
    assert "use data=dir with data.path, data.test_path" in caplog.text
    caplog.clear()
    GlobSource(pattern=str(tmp_path / "train" / "**" / "*.*")).index()  # one split: nothing pooled
    assert "pooled" not in caplog.text


def test_test_path_holds_images_out_and_leaves_the_rest_to_split(tmp_path):
    photo_folder(tmp_path / "train", per_class=3)
    photo_folder(tmp_path / "test", per_class=2)
    index = dir_source(tmp_path / "train", test_path=str(tmp_path / "test")).index()
    assert index.split.tolist() == [""] * 9 + ["test"] * 6  # "": data.validation_split decides
    assert all(path.startswith(str(tmp_path / "test")) for path in index.paths[9:])
    from runner import pipeline

    source = dir_source(
        tmp_path / "train", test_path=str(tmp_path / "test"), image_size=[8, 8], validation_split=0.33
    )
    data = pipeline.build(source, source.index(), seed=0)
    assert sorted(data.split[:9]) == ["train"] * 6 + ["val"] * 3 and data.split[9:].tolist() == ["test"] * 6
    assert sum(int(x.shape[0]) for x, _ in data.test) == 6


def write_csv(path: Path, rows: list[tuple[str, str]], header=("path", "label")) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def csv_case(tmp_path: Path) -> tuple[Path, Path]:
    """photos/ with a labels.csv that has a missing file, an unknown label and a path leaving the root."""
    root = photo_folder(tmp_path / "photos", per_class=6)
    outside = write_image(tmp_path / "outside.jpg")
    rows = [(str(p.relative_to(root)), p.parent.name) for p in sorted(root.rglob("*.*"))]
    unlisted = rows.pop()  # on disk, not in the CSV
    rows += [("cat/missing.jpg", "cat"), ("dog/dog01.jpg", "dgo"), (f"../{outside.name}", "cat")]
    rows = [r for r in rows if r[0] != "dog/dog01.jpg" or r[1] == "dgo"]
    return write_csv(root / "labels.csv", rows), root / unlisted[0]


def glob_csv(tmp_path: Path, csv_path: Path, **overrides) -> GlobSource:
    settings = {
        "pattern": str(csv_path.parent / "**" / "*.*g"),
        "labels_from": LabelsFrom.csv,
        "labels_csv": str(csv_path),
        "class_names": ["cat", "dog", "owl"],
    }
    return GlobSource(**{**settings, **overrides})


def test_a_glob_over_what_runs_write_in_the_working_directory_is_refused(tmp_path, monkeypatch):
    # Run from the photo folder with a pattern from there: MLflow's plots of earlier runs match too.
    photo_folder(tmp_path / "photos", per_class=1)
    write_image(tmp_path / "mlruns" / "1" / "abc" / "artifacts" / "eval" / "confusion_matrix.png")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(RunnerError) as refused:
        GlobSource(pattern="**/*.png").index()
    assert str(refused.value).startswith(f"data.pattern='**/*.png': matches 1 file in {tmp_path}/mlruns/")
    assert len(GlobSource(pattern="photos/**/*.png").index()) == 3  # a PNG of each class


def test_a_csv_cell_of_several_classes_is_a_row_of_them(tmp_path, caplog):
    for name in ("a", "b", "c", "d"):
        write_image(tmp_path / f"{name}.png")
    lines = ["path,label", "a.png,cat|owl", "b.png, owl ", "c.png,", "d.png,cat|bird", "a.png,owl| cat"]
    (tmp_path / "labels.csv").write_text("\n".join(lines) + "\n")
    source = GlobSource(
        pattern=str(tmp_path / "*.png"),
        labels_from=LabelsFrom.csv,
        labels_csv=str(tmp_path / "labels.csv"),
        label_mode=LabelMode.multi_hot,
        label_separator="|",
        class_names=["cat", "owl"],
    )
    index = source.index()
    assert [Path(p).name for p in index.paths] == ["a.png", "b.png", "c.png", "d.png"] and not index.skipped
    # An empty cell: none of the classes. A class data.class_names leaves out: left out of the row.
    assert index.multi.tolist() == [[1, 1], [0, 1], [0, 0], [1, 0]]
    assert index.labels.tolist() == [0, 1, -1, 0]  # the rarest class of each, to stratify by
    assert [index.label_names(i) for i in range(4)] == ["cat|owl", "owl", "", "cat"]
    assert "data.class_names leaves out classes the labels name: 'bird' (1 image)." in caplog.text
    with pytest.raises(RunnerError, match="data.label_mode=multi_hot: reads several classes per image"):
        replace(source, labels_from=LabelsFrom.parent, labels_csv=None).index()
    with pytest.raises(RunnerError, match="data.label_separator='': separates nothing"):
        replace(source, label_separator="")
    with pytest.raises(RunnerError, match="data.max_per_class=5: caps single-label classes"):
        replace(source, max_per_class=5)
    # Cells written apart by '|' and read at spaces: 'cat|owl' is one class of its own, said.
    caplog.clear()
    spaced = replace(source, label_separator=" ", class_names=None).index()  # a.png's two rows differ now
    assert spaced.class_names == ["cat|bird", "owl"]
    assert caplog.messages == [
        "class 'cat|bird' holds '|', which data.label_separator=' ' does not split at: if it is "
        "several classes, set 'data.label_separator=|'"
    ]


def test_a_label_regex_that_is_no_regular_expression_is_refused_with_an_example():
    with pytest.raises(RunnerError) as refused:
        GlobSource(pattern="photos/*.jpg", labels_from=LabelsFrom.regex, label_regex="([a-z]+_")
    assert str(refused.value).startswith(
        "data.label_regex='([a-z]+_': not a regular expression (missing ), unterminated subpattern at "
    )


def test_glob_with_csv_reports_every_problem_row(tmp_path):
    csv_path, unlisted = csv_case(tmp_path)
    index = glob_csv(tmp_path, csv_path).index()
    reasons = dict(index.skipped)
    assert "does not exist" in reasons[str(csv_path.parent / "cat" / "missing.jpg")]
    assert "unknown label 'dgo'" in reasons[str(csv_path.parent / "dog" / "dog01.jpg")]
    assert "Did you mean 'dog'" in reasons[str(csv_path.parent / "dog" / "dog01.jpg")]
    assert "outside the data root" in reasons["../outside.jpg"]
    assert "not listed" in reasons[str(unlisted)]
    assert len(index) == 18 - 2  # one unlisted, one with an unknown label
    assert str(tmp_path / "outside.jpg") not in index.paths


def test_csv_outside_root_allowed_when_asked(tmp_path):
    csv_path, _ = csv_case(tmp_path)
    index = glob_csv(
        tmp_path, csv_path, allow_outside_root=True, pattern=str(tmp_path / "**" / "*.jpg")
    ).index()
    assert str(tmp_path / "outside.jpg") in index.paths


def test_a_file_listed_twice_is_used_once_and_one_with_two_labels_not_at_all(tmp_path):
    root = photo_folder(tmp_path / "photos", per_class=2)
    rows = [(str(p.relative_to(root)), p.parent.name) for p in sorted(root.rglob("*.*"))]
    rows += [("cat/cat00.png", "cat"), ("dog/dog01.jpg", "owl")]  # a repeat; a contradiction
    index = glob_csv(tmp_path, write_csv(root / "labels.csv", rows)).index()
    assert len(index.paths) == len(set(index.paths)) == 5  # 6 files, the contradicted one left out
    assert str(root / "cat" / "cat00.png") in index.paths
    assert dict(index.skipped)[str(root / "dog" / "dog01.jpg")] == (
        "different labels in data.labels_csv: dog, owl; keep one row"
    )


def test_a_file_in_two_splits_is_left_out(tmp_path):
    root = photo_folder(tmp_path / "photos", per_class=2)
    rows = [(str(p.relative_to(root)), p.parent.name, "train") for p in sorted(root.rglob("*.*"))]
    rows.append(("cat/cat00.png", "cat", "val"))  # would be trained and validated on
    csv_path = write_csv(root / "labels.csv", rows, header=("path", "label", "split"))
    index = glob_csv(tmp_path, csv_path, split_column="split").index()
    assert str(root / "cat" / "cat00.png") not in index.paths and len(index) == 5
    assert (
        "different splits in data.split_column: train, val"
        in dict(index.skipped)[str(root / "cat" / "cat00.png")]
    )


def test_csv_paths_written_on_windows_are_found(tmp_path):
    root = photo_folder(tmp_path / "photos", per_class=2)
    rows = [(str(p.relative_to(root)).replace("/", "\\"), p.parent.name) for p in sorted(root.rglob("*.*"))]
    index = glob_csv(tmp_path, write_csv(root / "labels.csv", rows)).index()
    assert sorted(index.paths) == sorted(str(p) for p in root.rglob("*.*g")) and not index.skipped
    # Windows' names are not case-sensitive: a CSV written there may name 'Cat\\CAT00.PNG'.
    shouted = [(path.upper() if i % 2 else path.title(), label) for i, (path, label) in enumerate(rows)]
    index = glob_csv(tmp_path, write_csv(root / "shouted.csv", shouted)).index()
    assert sorted(index.paths) == sorted(str(p) for p in root.rglob("*.*g")) and not index.skipped
    # ... and a file named on macOS (é as e and an accent) is found by a CSV written elsewhere (é).
    decomposed = write_image(root / "cat" / unicodedata.normalize("NFD", "café.png"))
    composed = [("cat\\" + unicodedata.normalize("NFC", "café.png"), "cat")]
    index = glob_csv(tmp_path, write_csv(root / "accents.csv", composed), class_names=None).index()
    assert index.paths == [str(decomposed)]


def test_csv_rows_may_name_their_files_by_id_alone_as_kaggles_do(tmp_path, caplog):
    root = photo_folder(tmp_path / "photos", per_class=2)  # cat/cat00.png, cat/cat01.jpg, dog/...
    write_image(root / "dog" / "dog00.jpg")  # beside dog00.png: the id 'dog00' names two files
    rows = [("cat00", "cat"), ("cat01.jpg", "cat"), ("dog00", "dog"), ("dog01", "dog")]
    rows += [("owl/owl00.png", "owl"), ("owl01", "owl"), ("zebra9", "owl")]
    with caplog.at_level(logging.INFO):
        index = glob_csv(tmp_path, write_csv(root / "labels.csv", rows)).index()
    named = ["cat/cat00.png", "cat/cat01.jpg", "dog/dog01.jpg", "owl/owl00.png", "owl/owl01.jpg"]
    assert index.paths == [str(root / path) for path in named]
    assert [index.class_names[label] for label in index.labels] == ["cat", "cat", "dog", "owl", "owl"]
    assert "data.labels_csv names 4 files not as they are here (by name alone" in caplog.text
    assert dict(index.skipped) == {
        str(root / "dog00"): (
            f"'dog00' in data.labels_csv names 2 files ({root}/dog/dog00.jpg, {root}/dog/dog00.png): "
            f"write its path, relative to the CSV"
        ),
        str(root / "dog" / "dog00.jpg"): "not listed in data.labels_csv",
        str(root / "dog" / "dog00.png"): "not listed in data.labels_csv",
        str(root / "zebra9"): "listed in data.labels_csv but the file does not exist",
    }


def test_csv_paths_of_another_machine_are_the_files_here_that_end_so(tmp_path):
    root = photo_folder(tmp_path / "photos", per_class=2)  # cat/cat00.png, ... owl/owl01.jpg
    write_image(root / "dog" / "deeper" / "cat00.png")  # a second cat00.png: its folder tells them apart
    rows = [
        ("C:\\Users\\ana\\photos\\cat\\cat00.png", "cat"),  # Windows
        ("/home/ana/photos/dog/deeper/cat00.png", "dog"),
        ("/home/ana/photos/owl01.jpg", "owl"),  # its folder not in it, its name alone is enough
        ("/home/ana/photos/fox/cat00.png", "cat"),  # cat00.png twice here, neither in fox/
        ("/home/ana/photos/cat/cat99.png", "cat"),  # none here
    ]
    index = glob_csv(tmp_path, write_csv(root / "labels.csv", rows)).index()
    assert index.paths == [str(root / p) for p in ("cat/cat00.png", "dog/deeper/cat00.png", "owl/owl01.jpg")]
    reasons = dict(index.skipped)
    assert reasons["/home/ana/photos/fox/cat00.png"].startswith("'/home/ana/photos/fox/cat00.png' in ")
    assert "names 2 files" in reasons["/home/ana/photos/fox/cat00.png"]
    none = "listed in data.labels_csv but the file does not exist"
    assert reasons["/home/ana/photos/cat/cat99.png"] == none  # not "outside the data root": no use


def test_glob_through_a_symlinked_folder_uses_each_file_once(tmp_path):
    root = photo_folder(tmp_path / "photos", per_class=2)
    (root / "also_cats").symlink_to(root / "cat")
    index = GlobSource(pattern=str(root / "**" / "*.*g")).index()
    assert len(index) == 6 and index.class_names == ["cat", "dog", "owl"]


def test_follow_links_reads_a_linked_folder_once_and_walks_no_loop(tmp_path):
    root = photo_folder(tmp_path / "pets", per_class=2)
    kept_elsewhere = photo_folder(tmp_path / "more", per_class=2) / "cat"
    (root / "cat" / "more").symlink_to(kept_elsewhere)
    (root / "cat" / "up").symlink_to(root)  # a loop: os.walk filed pets/cat/up/dog/... as cats
    (root / "dog" / "again").symlink_to(root / "dog")
    plain = dir_source(root).index()
    followed = dir_source(root, follow_links=True).index()
    assert len(plain) == 6 and not plain.skipped
    linked = [str(root / "cat" / "more" / p.name) for p in sorted(kept_elsewhere.iterdir())]
    assert sorted(followed.paths) == sorted(plain.paths + linked) and not followed.skipped
    assert followed.labels.tolist().count(0) == 4  # cat: its own 2 and the 2 linked


def test_a_file_name_that_is_not_utf8_is_left_out_with_how_to_rename_it(tmp_path):
    # image_dataset_from_directory stops on one ("Error converting unicode string"); the runner's
    # records (split.csv, MLflow) could not hold it either: it crashed writing split.csv.
    root = photo_folder(tmp_path / "pets", per_class=2)
    latin1 = os.fsdecode(bytes(root / "cat") + b"/caf\xe9.jpg")  # "café" written by a Latin-1 system
    shutil.copy(root / "cat" / "cat01.jpg", latin1)
    expected = [(str(root / "cat" / "caf\\xe9.jpg"), NOT_UTF8)]
    for source in (dir_source(root), GlobSource(pattern=str(root / "*" / "*.*g"))):
        index = source.index()
        assert len(index) == 6 and index.skipped == expected
    (root / os.fsdecode(b"ni\xf1o")).mkdir()  # a class folder so named could be no class in a record
    with pytest.raises(RunnerError, match=r"subfolder 'ni\\xf1o' has a name that is not UTF-8"):
        dir_source(root).index()


def test_a_csv_saved_by_excel_as_cp1252_says_how_to_make_it_utf8(tmp_path):
    root = photo_folder(tmp_path / "photos", per_class=1)
    labels = root / "labels.csv"
    labels.write_bytes("path,label\r\ncat/cat00.png,cat\r\ncat/café.jpg,cat\r\n".encode("cp1252"))
    expected = f"'{labels}': not UTF-8 text (byte 0xe9 on line 3). Save it as UTF-8 (Excel: \"CSV UTF-8\")"
    with pytest.raises(RunnerError, match=re.escape(expected)):
        glob_csv(tmp_path, labels).index()


@pytest.mark.parametrize("separator", [";", "\t", ", "])
def test_a_csv_separated_by_semicolons_or_tabs_reads_as_a_comma_separated_one(separator, tmp_path):
    csv_path, _ = csv_case(tmp_path)  # Excel writes ";" where the decimal mark is a comma
    with csv_path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    other = csv_path.with_name("other.csv")  # ", ": written by hand, its header's "label" is " label"
    other.write_text("".join(separator.join(row) + "\n" for row in rows))
    by_commas, by_other = glob_csv(tmp_path, csv_path).index(), glob_csv(tmp_path, other).index()
    assert len(by_other) > 0 and by_other.paths == by_commas.paths
    assert by_other.labels.tolist() == by_commas.labels.tolist()


def test_classes_that_differ_only_in_case_are_said(tmp_path, caplog):
    root = photo_folder(tmp_path / "photos", per_class=2)
    rows = [("cat/cat00.png", "cat"), ("cat/cat01.jpg", "Cat"), ("dog/dog00.png", "dog")]
    index = glob_csv(tmp_path, write_csv(root / "labels.csv", rows), class_names=None).index()
    assert index.class_names == ["Cat", "cat", "dog"]  # as written: the data decides
    said = "classes 'Cat' and 'cat' differ only in case: they are 2 classes."
    assert said in caplog.text
    caplog.clear()
    (root / "Dog").mkdir()
    shutil.copy(root / "dog" / "dog00.png", root / "Dog")
    assert dir_source(root).index().class_names == ["Dog", "cat", "dog", "owl"]
    assert "classes 'Dog' and 'dog' differ only in case" in caplog.text


def test_tiffs_asked_for_pass_the_header_check_as_they_decode(tmp_path):
    # The header check held an allow-list of formats (no TIFF) that the decoder (Pillow) did not:
    # with data.cache=none every TIFF was "unsupported", with a cache they trained.
    root = photo_folder(tmp_path / "photos", per_class=2)
    for image in list(root.rglob("*.*g")):
        Image.open(image).save(image.with_suffix(".tif"))
        image.unlink()
    index = dir_source(root, extensions=["tif"], cache=Cache.none).index()
    assert len(index) == 6 and not index.skipped
    images, kept, failed = decode_batch(
        index.paths, Decoder(8, 8, ColorMode.rgb, Interpolation.bilinear), True
    )
    assert kept == list(range(6)) and not failed and images.shape == (6, 8, 8, 3)


def test_csv_paths_written_from_the_working_directory_say_so(tmp_path, monkeypatch):
    # photos/labels.csv listing photos/cat/cat00.png: every row missing, and the run was told
    # "data.labels_from=none: the images have no labels", of a run with data.labels_from=csv.
    monkeypatch.chdir(tmp_path)
    root = photo_folder(tmp_path / "photos", per_class=2)
    rows = [(str(p.relative_to(tmp_path)), p.parent.name) for p in sorted(root.rglob("*.*g"))]
    source = glob_csv(tmp_path, write_csv(root / "labels.csv", rows))
    with pytest.raises(
        RunnerError, match=r"its paths are read relative to its own folder .* \(e\.g\. cat/cat00"
    ):
        source.index()
    nowhere = glob_csv(tmp_path, write_csv(root / "labels.csv", [("cat/gone.jpg", "cat")]), class_names=None)
    index = nowhere.index()
    with pytest.raises(
        RunnerError, match=r"^data: no image has a usable label \(7 files skipped: 6 not listed"
    ):
        check_splittable(nowhere, index)


def test_a_folder_as_the_glob_pattern_says_how_to_match_its_files(tmp_path):
    root = photo_folder(tmp_path / "photos", per_class=1)
    with pytest.raises(
        RunnerError,
        match=re.escape(f"a folder, not files. Match the files in it, e.g. data.pattern='{root}/**/*.jpg'"),
    ):
        GlobSource(pattern=str(root)).index()


def test_csv_missing_column_names_the_columns_found_and_the_one_of_images(tmp_path):
    csv_path = write_csv(tmp_path / "labels.csv", [("cat", "a.jpg")], header=("label", "file"))
    write_image(tmp_path / "a.jpg")
    with pytest.raises(RunnerError) as refused:
        glob_csv(tmp_path, csv_path).index()
    assert str(refused.value) == (
        f"data.path_column=path: no such column in '{csv_path}'. Its images are in 'file': "
        f"data.path_column=file. Set data.path_column to one of its columns: label, file."
    )
    # Kaggle's kind: ids that name the images by name alone, and one other column, the labels.
    ids = write_csv(tmp_path / "ids.csv", [("0a1b", "pug")], header=("id", "breed"))
    write_image(tmp_path / "train" / "0a1b.jpg")
    with pytest.raises(RunnerError) as refused:
        glob_csv(tmp_path, ids, class_names=None).index()
    assert str(refused.value) == (
        f"data.path_column=path: no such column in '{ids}'. Its images are in 'id' and its labels are in "
        f"'breed': data.path_column=id data.label_column=breed. Set data.path_column to one of its "
        f"columns: id, breed."
    )
    index = glob_csv(tmp_path, ids, class_names=None, path_column="id", label_column="breed").index()
    assert index.paths == [str(tmp_path / "train" / "0a1b.jpg")] and index.class_names == ["pug"]
    # No header line: its first row was read as one.
    csv_path.write_text("a.jpg;cat\nb.jpg;dog\n")
    with pytest.raises(RunnerError) as refused:
        glob_csv(tmp_path, csv_path).index()
    assert str(refused.value) == (
        f"data.path_column=path: '{csv_path}' has no header line: its first line ('a.jpg;cat') is a "
        f"row. Add one above it: path;label"
    )


def test_glob_csv_split_column_places_each_row(tmp_path):
    root = photo_folder(tmp_path / "photos", per_class=8)
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*.*"))
    splits = ["train", "val", "test", ""] * 6  # per class: two of each
    splits[0] = "tset"
    rows = [(f, Path(f).parent.name, split) for f, split in zip(files, splits, strict=True)]
    csv_path = write_csv(root / "labels.csv", rows, header=("path", "label", "split"))
    index = glob_csv(tmp_path, csv_path, split_column="split").index()
    assert sorted(index.split.tolist()) == sorted(["train"] * 5 + ["val", "test", ""] * 6)
    reason = dict(index.skipped)[str(root / files[0])]
    assert reason == "split 'tset' in data.split_column is not train, val, test or empty"
    with pytest.raises(
        RunnerError,
        match="data.split_column=fold: no such column .* Set data.split_column to one of its columns: path,",
    ):
        glob_csv(tmp_path, csv_path, split_column="fold").index()
    from runner import pipeline

    source = glob_csv(tmp_path, csv_path, split_column="split", image_size=[8, 8], validation_split=0.5)
    data = pipeline.build(source, source.index(), seed=0)
    placed = dict(zip(data.index.paths, data.split, strict=True))
    for path, _, split in rows[1:]:  # as the CSV says; its empty ones by data.validation_split
        assert placed[str(root / path)] == split or (
            split == "" and placed[str(root / path)] in ("train", "val")
        )
    assert sorted(placed.values()).count("val") == 6 + 3
    assert sum(int(x.shape[0]) for x, _ in data.test) == 6


def test_glob_labels_from_parent_and_regex(tmp_path):
    photo_folder(tmp_path, per_class=2)
    parent = GlobSource(pattern=str(tmp_path / "**" / "*.jpg")).index()
    assert parent.class_names == ["cat", "dog", "owl"] and len(parent) == 3
    regex = GlobSource(
        pattern=str(tmp_path / "*" / "*"), labels_from=LabelsFrom.regex, label_regex=r"^(?P<label>[a-z]+)\d+"
    ).index()
    assert regex.class_names == ["cat", "dog", "owl"] and len(regex) == 6
    unlabeled = GlobSource(pattern=str(tmp_path / "*" / "*.png"), labels_from=LabelsFrom.none).index()
    assert unlabeled.class_names == [] and (unlabeled.labels == -1).all()


def test_a_label_regex_that_matches_no_file_name_says_so(tmp_path):
    photo_folder(tmp_path, per_class=2)
    source = GlobSource(
        pattern=str(tmp_path / "*" / "*"), labels_from=LabelsFrom.regex, label_regex="^img_([a-z]+)"
    )
    expected = "data.label_regex='^img_([a-z]+)': matches none of the 6 file names"
    with pytest.raises(RunnerError, match=re.escape(expected)):
        source.index()


def squares(n: int = 30):
    """A generator source for tests: bright squares are class 1, dark ones class 0."""
    for i in range(n):
        label = i % 2
        yield np.full((12, 12, 3), 200 if label else 30, dtype=np.uint8), label
    yield np.zeros((5, 5, 3), dtype=np.uint8), 0  # wrong shape: skipped


def test_generator_source_checks_the_signature():
    index = GeneratorSource(fn="test_sources:squares", kwargs={"n": 10}).index()
    assert len(index) == 10 and index.class_names == ["0", "1"]
    assert index.skipped[0][1] == (
        "shape (5, 5, 3) differs from the element signature (12, 12, 3) "
        "(data.element_shape=[null,null,3] takes any size)"
    )
    assert index.summary().startswith("1 element skipped: 1 shape (5, 5, 3) differs")
    # Declared with null sizes, photos of any size are kept (resized to data.image_size later).
    anysize = GeneratorSource(fn="test_sources:squares", kwargs={"n": 10}, element_shape=[None, None, 3])
    assert len(anysize.index()) == 11 and anysize.index().summary() == "no elements skipped"
    gray = GeneratorSource(fn="test_sources:squares", kwargs={"n": 10}, element_shape=[None, None, 1])
    with pytest.raises(
        RunnerError, match=r"10 shape \(12, 12, 3\) differs from the element signature \(None, None, 1\),"
    ):
        gray.index()  # the channels it declares still hold


def paths(kind: str = "str"):
    """A generator of file paths where images belong: data=glob's to list."""
    for i in range(2):
        yield (f"photos/{i}.jpg" if kind == "str" else [[0.5, "x"]]), i


def test_a_generator_of_file_paths_is_pointed_to_data_glob():
    with pytest.raises(RunnerError) as refused:
        GeneratorSource(fn="test_sources:paths").index()
    assert str(refused.value) == (
        "data.fn=test_sources:paths: the image of element 0 is not a numeric array (could not convert "
        "string to float: 'photos/0.jpg'); yield (height, width) or (height, width, channels) arrays. "
        "For image files, list them with data=glob instead (data.pattern, labels from a CSV, their "
        "folder or their names)."
    )
    with pytest.raises(RunnerError) as refused:  # no path: no word of files
        GeneratorSource(fn="test_sources:paths", kwargs={"kind": "mixed"}).index()
    assert str(refused.value).endswith("channels) arrays.")


def tagged(n: int = 6):
    """A generator source of several classes per image: a list of them (empty: none)."""
    tags = [["sky", 2], ["sky"], [], ("sea", "sky"), np.array([2]), [2, "sea"]]
    for i in range(n):
        yield np.full((8, 8, 3), 40 * i, dtype=np.uint8), tags[i % len(tags)]


def test_a_generators_lists_of_classes_are_rows_of_them():
    index = GeneratorSource(fn="test_sources:tagged", label_mode=LabelMode.multi_hot).index()
    assert index.class_names == ["2", "sea", "sky"]  # numbers as names, shortest first
    assert index.multi.tolist() == [[1, 0, 1], [0, 0, 1], [0, 0, 0], [0, 1, 1], [1, 0, 0], [1, 1, 0]]
    # A list for one class per image is refused with where it goes; a table, for several.
    with pytest.raises(
        RunnerError, match=r"label of element 0 is \[1, 0\], not one class: .*multi_hot and a list"
    ):
        GeneratorSource(fn="test_sources:pairs").index()
    with pytest.raises(
        RunnerError, match=r"label of element 0 has shape \(1, 2\): with data.label_mode=multi_hot"
    ):
        GeneratorSource(
            fn="test_sources:pairs", kwargs={"table": True}, label_mode=LabelMode.multi_hot
        ).index()


def hot(lists: bool = False):
    """Keras's multi-label examples' labels: a 0/1 row over the classes per image (``lists``: lists
    of the classes 0 and 1 instead, each once)."""
    rows = [[0, 1], [1, 0]] if lists else [[0, 1, 1], [1, 0, 0], [0, 0, 0], [0, 1, 0]]
    for i, row in enumerate(rows * 2):
        yield np.full((8, 8, 3), 30 * i, dtype=np.uint8), np.array(row)


def test_a_generators_0_1_rows_are_its_classes_columns_not_lists_of_0_and_1():
    index = GeneratorSource(fn="test_sources:hot", label_mode=LabelMode.multi_hot).index()
    assert index.class_names == ["0", "1", "2"]  # the columns, none left out
    assert index.multi.tolist() == [[0, 1, 1], [1, 0, 0], [0, 0, 0], [0, 1, 0]] * 2
    named = GeneratorSource(
        fn="test_sources:hot", label_mode=LabelMode.multi_hot, class_names=["a", "b", "c"]
    )
    assert named.index().class_names == ["a", "b", "c"] and named.index().label_names(0) == "b c"
    with pytest.raises(
        RunnerError, match=r"yields 0/1 label rows of 3 columns, and data.class_names names 2"
    ):
        replace(named, class_names=["a", "b"]).index()
    # Lists of the classes 0 and 1 (no value twice in any) stay lists: [0, 1] is both classes.
    listed = GeneratorSource(fn="test_sources:hot", kwargs={"lists": True}, label_mode=LabelMode.multi_hot)
    assert listed.index().class_names == ["0", "1"] and listed.index().multi.tolist() == [[1, 1]] * 4


def pairs(table: bool = False):
    yield np.zeros((8, 8, 3), np.uint8), [[1, 0]] if table else [1, 0]


def test_a_number_per_image_comes_from_a_csv_a_file_name_or_a_generator(tmp_path):
    sizes = sizes_folder(tmp_path / "sizes", count=40)
    names = sorted(sizes)
    cells = {names[0]: "abc", names[1]: '"1,5"', names[2]: "inf", names[3]: "", names[4]: " -2.5e1 "}
    table = tmp_path / "sizes" / "labels.csv"
    table.write_text("path,label\n" + "".join(f"{n},{cells.get(n, sizes[n])}\n" for n in names))
    regression = {"label_mode": LabelMode.regression, "pattern": str(tmp_path / "sizes" / "*.jpg")}
    index = GlobSource(**regression, labels_from=LabelsFrom.csv, labels_csv=str(table)).index()
    assert index.class_names == [] and index.numbers.dtype == np.float32
    found = {Path(path).name: float(n) for path, n in zip(index.paths, index.numbers, strict=True)}
    assert found == {names[4]: -25.0} | {n: sizes[n] for n in names[5:]}
    assert {Path(path).name: why for path, why in index.skipped} == {
        names[0]: "label 'abc' is not a number",
        names[1]: "label '1,5' is not a number (a decimal comma? write it with a point: 1.5)",
        names[2]: "label 'inf' is not a finite number",
        names[3]: "no label",
    }
    # Excel's CSV where the decimal mark is a comma: separated by semicolons, 12,5 for 12.5.
    europe = tmp_path / "sizes" / "europe.csv"
    comma = {n: f"{sizes[n] + 0.5:g}".replace(".", ",") for n in names}
    europe.write_text("path;label\n" + "".join(f"{n};{comma[n]}\n" for n in names))
    index = GlobSource(**regression, labels_from=LabelsFrom.csv, labels_csv=str(europe)).index()
    assert index.numbers.tolist() == [sizes[Path(p).name] + 0.5 for p in index.paths] and len(index) == 40
    by_name = GlobSource(**regression, labels_from=LabelsFrom.regex, label_regex=r"_(\d+)\.jpg$").index()
    assert by_name.numbers.tolist() == [sizes[Path(p).name] for p in by_name.paths] and len(by_name) == 40
    assert by_name.label_names(0) == f"{sizes[Path(by_name.paths[0]).name]:g}"
    generated = GeneratorSource(fn="test_sources:measured", label_mode=LabelMode.regression).index()
    assert generated.numbers.tolist() == [0.0, 0.5, 1.0, 1.5] and generated.class_names == []
    with pytest.raises(
        RunnerError, match=r"label of element 0 is \[1, 0\], not one number: data.label_mode=regression"
    ):
        GeneratorSource(fn="test_sources:pairs", label_mode=LabelMode.regression).index()


def measured():
    """A generator source of a number per image (NumPy's, Python's)."""
    for i in range(4):
        yield np.full((8, 8, 3), 40 * i, dtype=np.uint8), np.float32(i / 2) if i % 2 else i / 2


def test_numbers_are_stratified_by_ranges_of_equal_counts_and_must_differ():
    from runner.sources.labels import numbers_of

    numbers, strata, bad = numbers_of([str(v) for v in range(100)] + ["x"])
    assert np.bincount(strata[:100]).tolist() == [20] * 5 and strata[100] == -1 and list(bad) == [100]
    assert np.array_equal(np.argsort(numbers[:100], kind="stable"), np.argsort(strata[:100], kind="stable"))
    _, _, beyond = numbers_of(["nan", "1e39", "-3e38"])  # NaN, and past float32's range
    assert beyond == {0: "label 'nan' is not a finite number", 1: "label '1e39' is not a finite number"}
    few, _, _ = numbers_of(["1", "2", "3"])
    index = FileIndex(["a", "b", "c"], np.zeros(3, np.int32), [], numbers=np.full(3, 7, np.float32))
    with pytest.raises(
        RunnerError, match="every image's number is 7; data.label_mode=regression learns numbers that differ"
    ):
        check_splittable(DataConfig(label_mode=LabelMode.regression), index)
    check_splittable(DataConfig(), replace(index, numbers=few))  # numbers that differ: no classes needed


def test_generator_kwargs_its_function_does_not_take_are_said_against_its_signature():
    with pytest.raises(RunnerError) as refused:  # +data.kwargs.count=10
        GeneratorSource(fn="test_sources:squares", kwargs={"count": 10}).index()
    assert str(refused.value) == (
        "data.fn=test_sources:squares: takes no 'count'. It takes (n); given: +data.kwargs.count. "
        "Give each as +data.kwargs.NAME=VALUE."
    )
    with pytest.raises(RunnerError, match=r"takes no 'nn'. Did you mean 'n'\?"):
        GeneratorSource(fn="test_sources:squares", kwargs={"nn": 10}).index()
    with pytest.raises(
        RunnerError, match="data.fn=test_sources:needs_a_size: missing a required argument: 'size'"
    ):
        GeneratorSource(fn="test_sources:needs_a_size").index()


def needs_a_size(size: int):
    """A generator source for tests that cannot be called without its argument."""
    yield np.zeros((size, size, 3), np.uint8), 0


def odd_images():
    """A generator source for tests: grayscale squares, one flat vector, then a string."""
    yield np.zeros((6, 6), np.uint8), 0
    yield np.full((6, 6), 255, np.uint8), 1
    yield np.zeros(36, np.uint8), 1
    yield "not an image", 0


def unit_floats():
    """A generator source for tests: float images in [0, 1], as many pipelines make them."""
    for i in range(4):
        yield np.full((6, 6, 3), i / 3, np.float32), i % 2


def test_float_images_in_0_1_read_as_0_255_are_refused():
    # They would train as black images (at most 1 of 255), a run that learns nothing, silently.
    with pytest.raises(RunnerError, match=r"values are all at most 1, .* Add data.value_range=\[0,1\]"):
        GeneratorSource(fn="test_sources:unit_floats").index()
    index = GeneratorSource(fn="test_sources:unit_floats", value_range=[0, 1]).index()
    assert [int(a.max()) for a in index.arrays] == [0, 85, 170, 255]


def test_generator_images_must_be_numeric_and_two_or_three_dimensional():
    with pytest.raises(
        RunnerError, match=r"test_sources:odd_images: the image of element 3 is not a numeric"
    ):
        GeneratorSource(fn="test_sources:odd_images").index()
    found = GeneratorSource(fn="test_sources:first_three").index()
    assert len(found) == 2 and found.arrays[0].shape == (6, 6, 1)
    assert found.skipped[0][1] == "shape (36,) is not (height, width) or (height, width, channels)"


def first_three():
    """``odd_images`` without the string."""
    yield from list(odd_images())[:3]


def one_hot_labels():
    """A generator source for tests: labels one-hot, as a Keras pipeline may already hold them."""
    yield np.zeros((6, 6), np.uint8), np.array([0.0, 1.0])


def forever():
    """A generator source for tests that never ends, as Keras's ``while True`` generators do."""
    while True:
        yield np.zeros((64, 64, 3), np.uint8), 0


def gone_midway():
    """A generator source whose files go away as it reads them."""
    yield np.zeros((6, 6, 3), np.uint8), 0
    raise FileNotFoundError("photos/2.png")


def gone_at_once():
    """A data function that fails before it returns anything."""
    raise KeyError("label")


@pytest.mark.parametrize(
    ("fn", "said"),
    [
        (  # as Keras's while-True generators do: it ran until the OOM killer
            "forever",
            "86 elements yielded, 0.0 GB held (half the memory available), and it has not ended. A "
            "Keras-style generator loops for ever: yield one pass",
        ),
        # Your code's own error: where in it, not a traceback through the runner.
        ("gone_midway", "raised FileNotFoundError: photos/2.png (at test_sources.py:"),
        ("gone_at_once", "raised KeyError: 'label' (at test_sources.py:"),
        (  # NumPy's "can only convert an array of size 1 to a Python scalar", with a traceback
            "one_hot_labels",
            "the label of element 0 is [0.0, 1.0], not one class: yield a class name or number (for a "
            "one-hot label, its argmax;",
        ),
    ],
)
def test_a_generator_that_cannot_be_materialised_is_one_line(fn, said, monkeypatch):
    from runner.sources import generator

    monkeypatch.setattr(generator, "room", lambda: 2**20)  # half the memory, as if it were 2 MB
    with pytest.raises(RunnerError) as refused:
        GeneratorSource(fn=f"test_sources:{fn}").index()
    assert str(refused.value).startswith(f"data.fn=test_sources:{fn}: {said}")


def test_generator_fn_typo_suggests_the_function_or_module(tmp_path, monkeypatch):
    with pytest.raises(RunnerError, match="has no function 'squaers'.*Did you mean 'squares'"):
        GeneratorSource(fn="test_sources:squaers").index()
    with pytest.raises(
        RunnerError, match=r"cannot import 'test_sourcse' .*\. Did you mean 'test_sources'\?$"
    ):
        GeneratorSource(fn="test_sourcse:squares").index()
    with pytest.raises(RunnerError) as refused:  # a dot for the colon
        GeneratorSource(fn="test_sources.squares").index()
    assert str(refused.value) == (
        "data.fn=test_sources.squares: write it as package.module:function, e.g. "
        "data.fn=test_sources:squares."
    )
    with pytest.raises(RunnerError, match=r"Did you mean 'numpy\.linalg'\?$"):
        GeneratorSource(fn="numpy.linalgg:norm").index()
    with pytest.raises(RunnerError) as refused:  # among thousands of modules, nothing that far off
        GeneratorSource(fn="nomod:fn").index()
    assert str(refused.value) == "data.fn=nomod:fn: cannot import 'nomod' (No module named 'nomod')."
    # A module whose own import fails: its missing dependency is named, and no other module.
    (tmp_path / "needs_torch.py").write_text("import torchh\n")
    monkeypatch.syspath_prepend(tmp_path)
    with pytest.raises(RunnerError) as refused:
        GeneratorSource(fn="needs_torch:make").index()
    assert str(refused.value).endswith("cannot import 'needs_torch' (No module named 'torchh').")


def test_messy_folder_trains_on_exactly_the_good_files(tmp_path):
    root, bad, good = messy_folder(tmp_path / "messy")
    result = run_cli(
        "data=dir",
        f"data.path={root}",
        "trainer.epochs=1",
        "data.image_size=[24,24]",
        "data.label_mode=binary",
        "trainer.class_weight=balanced",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "5 files skipped" in result.stderr
    [run] = mlflow_runs(tmp_path)
    assert "trainer.class_weight=balanced" in run.data.tags["runner.overrides"]  # the command's own
    train, val = int(run.data.params["data.count.train"]), int(run.data.params["data.count.val"])
    assert train + val == good
    output = result.stdout + result.stderr
    assert f"{train} training images (an epoch: 1 batch of {train}), {val} validation, 0 test" in output
    assert f"data.batch_size=32 is more than the {train} training images" in output
    assert float(run.data.params["trainer.class_weight.cat"]) > 0
    model = logged_model(tmp_path, run)
    assert model.output_shape == (None, 1)  # binary: one sigmoid unit
    [skipped_csv] = tmp_path.glob("outputs/*/*/data/skipped.csv")
    with skipped_csv.open() as handle:
        rows = list(csv.DictReader(handle))
    assert {row["path"] for row in rows} == bad
    assert all(row["reason"] for row in rows)


def test_glob_csv_through_the_cli(tmp_path):
    csv_path, _ = csv_case(tmp_path)
    run = train_cli(
        "data=glob",
        f"data.pattern={csv_path.parent}/**/*.*g",
        "data.labels_from=csv",
        f"data.labels_csv={csv_path}",
        "data.class_names=[cat,dog,owl]",
        "trainer.epochs=1",
        "data.image_size=[24,24]",
        "data.label_mode=categorical",
        "tracking.log_model=false",
        cwd=tmp_path,
    )
    assert int(run.data.params["data.count.skipped"]) == 4


def test_generator_through_the_cli(tmp_path):
    # A user's module in the working directory, as `python -m runner` imports it.
    source = "import numpy as np\n\n" + inspect.getsource(squares).replace("def squares", "def make")
    (tmp_path / "my_data.py").write_text(source)
    run = train_cli(
        "data=generator",
        "data.fn=my_data:make",
        "data.image_size=[12,12]",
        "trainer.epochs=1",
        "aug=flip",
        "tracking.log_model=false",
        cwd=tmp_path,
    )
    counts = run.data.params
    assert int(counts["data.count.train"]) + int(counts["data.count.val"]) == 30
    assert int(counts["data.count.skipped"]) == 1  # the 5x5 square


def test_csv_missing_column_through_the_cli_is_one_line(tmp_path):
    csv_path = write_csv(tmp_path / "labels.csv", [("a.jpg", "cat")], header=("file", "label"))
    write_image(tmp_path / "a.jpg")
    result = run_cli(
        "data=glob",
        f"data.pattern={tmp_path}/*.jpg",
        "data.labels_from=csv",
        f"data.labels_csv={csv_path}",
        cwd=tmp_path,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    [line] = error_lines(result)
    assert "no such column" in line and "file, label" in line


def test_an_image_beside_the_class_folders_is_listed_as_skipped(tmp_path):
    root = photo_folder(tmp_path / "photos", per_class=2)
    stray = write_image(root / "stray.JPG")
    (root / "README.txt").write_text("not an image, and no loss")
    index = dir_source(root).index()
    assert str(stray) not in index.paths and len(index) == 6
    assert dict(index.skipped) == {
        str(stray): ("an image beside the class folders, in none of them: move it into its class's folder")
    }


def test_given_labels_follow_sorted_paths(tmp_path):
    for name in ["b.png", "a.png", "sub/c.png"]:
        write_image(tmp_path / name)
    index = dir_source(tmp_path, labels=[1, 0, 1], class_names=["no", "yes"]).index()
    assert [Path(p).name for p in index.paths] == ["a.png", "b.png", "c.png"]
    assert index.labels.tolist() == [1, 0, 1] and index.class_names == ["no", "yes"]
    with pytest.raises(RunnerError, match="data.labels: 2 labels for 3 image files"):
        dir_source(tmp_path, labels=[0, 1]).index()


def test_two_runs_writing_the_digits_at_once_both_read_a_whole_set(tmp_path):
    # The first runs of a parallel sweep on a fresh machine all find no digits and write them.
    script = f"""
from PIL import Image
from runner.sources import DigitsSource
index = DigitsSource(path={str(tmp_path / "digits")!r}).index()
good = 0
for path in index.paths:  # read every file as training would, while the other run may still write
    try:
        with Image.open(path) as image:
            good += image.load() is not None
    except OSError:
        pass
print(len(index), good)
"""
    outputs = at_once(script, tmp_path / "go")
    assert outputs == [["1797", "1797"], ["1797", "1797"]]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["digits", "go"]  # no half-written folder left
    assert DigitsSource().path == compose().data.path  # from Python, the folder data=digits reads


def test_digits_killed_while_written_leave_no_half_written_set(tmp_path):
    digits = str(tmp_path / "digits")
    script = f"from runner.sources import DigitsSource; DigitsSource(path={digits!r}).index()"
    writer = subprocess.Popen([sys.executable, "-c", script])
    while not list(tmp_path.glob("digits.*.partial/*/*.png")):  # it has started writing
        assert writer.poll() is None, "the digits were written before the test could stop it"
    writer.kill()
    writer.wait()
    assert not (tmp_path / "digits").exists()  # what a run reads appears whole or not at all
    assert len(DigitsSource(path=digits).index()) == 1797
    assert [p.name for p in tmp_path.iterdir()] == ["digits"]  # the killed run's folder is cleared


def test_digits_removed_or_emptied_since_they_were_written_are_said(tmp_path, caplog):
    # A class folder deleted by a cache cleaner: runs trained on the rest, a class short, without a
    # word. Said, not mended (the folder may have been changed on purpose); removed, written again.
    digits = tmp_path / "digits"
    whole = DigitsSource(path=str(digits)).index()
    threes = sorted((digits / "3").iterdir())
    shutil.rmtree(digits / "3")
    sorted((digits / "4").iterdir())[0].write_bytes(b"")
    index = DigitsSource(path=str(digits)).index()
    assert len(index.class_names) == 9 and "3" not in index.class_names
    assert (
        f"{digits} holds {1797 - len(threes) - 1:,} of the 1,797 digits images written there, the "
        f"others removed or emptied since: remove the folder to have them all written again"
    ) in caplog.text
    shutil.rmtree(digits)
    caplog.clear()
    assert DigitsSource(path=str(digits)).index().paths == whole.paths
    assert "removed or emptied" not in caplog.text


def test_digits_that_cannot_be_written_say_where_to_write_them(tmp_path):
    # A container whose HOME no one can write: the README's first command, on a fresh machine.
    (tmp_path / "home").write_text("a file, not a folder")
    with pytest.raises(RunnerError) as refused:
        DigitsSource(path=str(tmp_path / "home" / ".cache" / "digits")).index()
    assert str(refused.value).startswith(f"data.path={tmp_path}/home/.cache/digits: cannot write scikit-")
    assert "Not a directory" in str(refused.value) and "e.g. data.path=/tmp/digits" in str(refused.value)


def test_identical_finds_files_with_the_same_bytes_only(tmp_path):
    from runner.sources.index import PREFIX, identical

    head = bytes(range(256)) * (PREFIX // 256)
    contents = {"a": head + b"tail", "b": head + b"tail", "c": head + b"TAIL", "d": b"x" * (PREFIX + 4)}
    paths = []
    for name, content in contents.items():  # c: a's size and first PREFIX bytes; d: its size only
        paths.append(str(tmp_path / name))
        (tmp_path / name).write_bytes(content)
    sizes = [len(content) for content in contents.values()]
    assert identical(paths, sizes) == [[0, 1]]
    assert identical([*paths, "array 0", "array 1"], [*sizes, "", ""]) == [[0, 1]]  # a generator's


def test_max_per_class_keeps_the_same_few_of_each_class_and_part(tmp_path):
    from runner.sources import FileIndex, index_of

    labels = np.array([0] * 10 + [1] * 3 + [0] * 4)
    split = np.array([""] * 13 + ["test"] * 4, dtype=object)
    index = FileIndex([f"f{i}.png" for i in range(17)], labels, ["cat", "dog"], split=split)
    capped = index.capped_at(2)
    kept = [int(p[1:-4]) for p in capped.paths]
    assert kept == sorted(kept) and capped.capped == 17 - 6  # index order; 11 left out
    assert [(s, y) for s, y in zip(capped.split, capped.labels, strict=True)].count(("", 0)) == 2
    assert [(s, y) for s, y in zip(capped.split, capped.labels, strict=True)].count(("test", 0)) == 2
    assert capped.labels.tolist().count(1) == 2
    assert index.capped_at(2).paths == capped.paths  # the same images every run
    assert index.capped_at(None) is index
    # Through the config, as python -m runner data.max_per_class=5 reads the digits.
    digits = index_of(compose(f"data.path={tmp_path / 'digits'}", "data.max_per_class=5").data)
    assert np.bincount(digits.labels).tolist() == [5] * 10 and digits.capped == 1797 - 50
    with pytest.raises(RunnerError, match="data.max_per_class=0: must be at least 1"):
        DigitsSource(max_per_class=0)


def test_progress_bars_show_on_a_terminal_only(monkeypatch):
    # In a log file (a batch job's, CI's) each update of a bar was one more piece of one long line.
    import io

    from runner.sources.index import PROGRESS_FROM, progress

    keyboard, terminal = os.openpty()
    with open(terminal, "w") as tty:
        monkeypatch.setattr(sys, "stderr", tty)
        assert not progress(PROGRESS_FROM, "decoding").disable
        assert progress(PROGRESS_FROM - 1, "decoding").disable  # small folders: none
    os.close(keyboard)
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert progress(PROGRESS_FROM, "decoding").disable


def test_classes_that_look_like_numbers_to_predict_are_said_to_be_classes(caplog):
    from runner.sources.labels import labels_of

    labels_of([str(digit) for digit in range(10)], None)  # digits: ten numbered classes
    labels_of(["cat", "23", "24.5"], None)
    assert not caplog.text
    labels_of(["23", "24.5", "7"], None)  # a fraction: no class is named so
    labels_of([str(age) for age in range(1, 91)], None)  # ninety ages
    said = [record.getMessage() for record in caplog.records]
    assert said[0].startswith("the 3 classes are all numbers (7 to 24.5): each is learnt as a class")
    assert said[1].startswith("the 90 classes are all numbers (1 to 90)")
    assert all(line.endswith("add data.label_mode=regression trainer.monitor=val_mae.") for line in said)
