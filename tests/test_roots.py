"""runner.sources.roots: what a folder given as data.path may be (through DirSource and
GlobSource, as a run reads it)."""

from __future__ import annotations

import os
import shutil

import pytest
from conftest import dir_source, photo_folder, write_image

from runner.errors import RunnerError
from runner.sources import GlobSource


def test_an_unzipped_macos_archive_and_hidden_folders_add_no_class_and_no_image(tmp_path, caplog):
    photo_folder(tmp_path, per_class=2)
    appledouble = b"\x00\x05\x16\x07" + bytes(80)  # macOS's ._NAME twin of each file in a zip
    for twin in ("__MACOSX/cat/._cat00.png", "__MACOSX/dog/._dog01.jpg", "cat/._cat00.png"):
        (tmp_path / twin).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / twin).write_bytes(appledouble)
    (tmp_path / "cat" / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    write_image(tmp_path / "dog" / ".ipynb_checkpoints" / "dog01-checkpoint.jpg")
    write_image(tmp_path / "owl" / ".thumbnails" / "owl00.png")
    with caplog.at_level("INFO"):
        index = dir_source(tmp_path).index()
    hidden = [tmp_path / "dog" / ".ipynb_checkpoints", tmp_path / "owl" / ".thumbnails"]
    assert f"left out 2 hidden folders, and what they hold: {hidden[0]}, {hidden[1]}" in caplog.messages
    assert index.class_names == ["cat", "dog", "owl"]
    assert sorted(os.path.relpath(p, tmp_path) for p in index.paths) == [
        f"{name}/{name}{i:02d}{suffix}"
        for name in ("cat", "dog", "owl")
        for i, suffix in ((0, ".png"), (1, ".jpg"))
    ]
    assert index.skipped == []


def test_class_folders_nested_one_level_down_are_pointed_at(tmp_path):
    # An archive with a top folder unzipped into a folder of its name (unzip PetImages.zip -d
    # PetImages, as the refusal of an archive suggests) nests the classes: one "class" was all it found.
    photo_folder(tmp_path / "PetImages" / "PetImages", per_class=1)
    with pytest.raises(RunnerError) as refused:
        dir_source(tmp_path / "PetImages").index()
    assert str(refused.value) == (
        f"data.path: '{tmp_path / 'PetImages'}' has one subfolder, 'PetImages', and it holds 3 folders "
        f"(cat, dog, owl): the classes, nested one level down as archives often have them. Point "
        f"data.path at it: data.path={tmp_path / 'PetImages' / 'PetImages'}"
    )
    assert dir_source(tmp_path / "PetImages" / "PetImages").index().class_names == ["cat", "dog", "owl"]


def test_a_thousand_class_folders_are_named_in_one_short_line(tmp_path):
    for i in range(1000):
        (tmp_path / f"n{i:08d}").mkdir()
    with pytest.raises(RunnerError) as refused:
        dir_source(tmp_path, class_names=["n9"]).index()
    listed = ", ".join(f"n{i:08d}" for i in range(12))
    assert str(refused.value).endswith(f"Subfolders: {listed}, ... (1000 in all).")


def test_a_path_one_level_above_the_classes_is_refused_with_the_split_settings(tmp_path):
    for split in ("train", "val", "test"):
        photo_folder(tmp_path / split, per_class=1)
    with pytest.raises(RunnerError) as refused:
        dir_source(tmp_path).index()
    assert str(refused.value) == (
        f"data.path: '{tmp_path}' holds test, train, val, each with subfolders of its own (cat, dog, owl): "
        f"splits, not classes. Use data.path={tmp_path / 'train'} data.val_path={tmp_path / 'val'} "
        f"data.test_path={tmp_path / 'test'}; or, if these are classes, name them: "
        f"data.class_names=[test,train,val]."
    )
    # The settings it suggests index the classes; naming the folders as classes is taken as meant.
    index = dir_source(
        tmp_path / "train", val_path=str(tmp_path / "val"), test_path=str(tmp_path / "test")
    ).index()
    assert index.class_names == ["cat", "dog", "owl"] and sorted(set(index.split)) == ["test", "train", "val"]
    assert dir_source(tmp_path, class_names=["train", "val"]).index().class_names == ["train", "val"]


def test_a_downloaded_archive_given_as_the_folder_says_how_to_extract_it(tmp_path):
    photo_folder(tmp_path / "pets", per_class=1)
    shutil.make_archive(str(tmp_path / "pets"), "zip", tmp_path, "pets")
    shutil.make_archive(str(tmp_path / "pets"), "gztar", tmp_path, "pets")
    refusals = {}
    (tmp_path / "pets" / "notes.txt").write_text("from the vet")
    for name in ("pets.zip", "pets.tar.gz", "pets/notes.txt"):
        with pytest.raises(RunnerError) as refused:
            dir_source(tmp_path / name).index()
        refusals[name] = str(refused.value)
    assert refusals["pets.zip"].startswith(
        f"data.path: '{tmp_path / 'pets.zip'}' is a zip archive, not a folder: extract it first "
        f"(unzip pets.zip -d pets). Point data.path at a folder"
    )
    assert (
        "is a tar archive, not a folder: extract it first (mkdir pets && tar xf pets.tar.gz -C pets)."
        in (refusals["pets.tar.gz"])
    )
    assert "notes.txt' is not a folder. Point data.path" in refusals["pets/notes.txt"]
    # A glob pattern that matches the archive (and no image): the same, for data.pattern.
    with pytest.raises(RunnerError) as refused:
        GlobSource(pattern=str(tmp_path / "pets.t*")).index()
    assert str(refused.value) == (
        f"data.pattern='{tmp_path / 'pets.t*'}': matches pets.tar.gz, a tar archive: extract it first "
        f"(mkdir pets && tar xf pets.tar.gz -C pets), then match the images in it, e.g. "
        f"data.pattern='pets/**/*.jpg'."
    )
    assert len(GlobSource(pattern=str(tmp_path / "pets*" / "*" / "*")).index()) == 3  # images too: read


def test_an_image_or_the_file_systems_root_given_as_the_folder_is_said_so(tmp_path):
    root = photo_folder(tmp_path / "pets", per_class=1)
    for path, said in [
        (root / "cat" / "cat00.png", f"is an image, not a folder: its classes' folder may be '{root}'."),
        (tmp_path / "/", "is the file system's root."),  # every folder of the machine, as classes
    ]:
        with pytest.raises(RunnerError) as refused:
            dir_source(path).index()
        assert str(refused.value) == (
            f"data.path: '{path}' {said} Point data.path at a folder with one subfolder per class."
        )


def test_a_class_named_test_with_only_images_is_a_class(tmp_path):
    photo_folder(tmp_path, per_class=1)
    write_image(tmp_path / "test" / "t.jpg")
    assert dir_source(tmp_path).index().class_names == ["cat", "dog", "owl", "test"]
