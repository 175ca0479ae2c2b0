"""runner.sources.filetypes: a folder's files of the types data.extensions leaves out, said with the
fix (through data=dir, as a run reads it; runner.evaluate's and runner.predict's in their tests)."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import pytest
from conftest import dir_source, photo_folder
from PIL import Image

from runner.decode import Decoder
from runner.errors import RunnerError
from runner.fill import decode_batch
from runner.schemas.data import Cache, ColorMode, Interpolation, Verify
from runner.sources import GlobSource
from runner.sources.filetypes import cannot_read, of_run, other_types


def scans(root: Path) -> Path:
    """photo_folder's images as TIFFs, one in upper case (a scanner's .TIF)."""
    photo_folder(root, per_class=2)
    for image in sorted(root.rglob("*.*g")):
        Image.open(image).save(image.with_suffix(".TIF" if image.name == "cat00.png" else ".tif"))
        image.unlink()
    return root


def camera_raw(path: Path) -> Path:
    """A file named as a camera's raw photo (TIFF-like header, no image Pillow can read)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"II*\0\x10\0\0\0CR\x02\0" + bytes(64))
    return path


def test_a_folder_of_scans_names_the_extensions_that_read_it(tmp_path):
    root = scans(tmp_path / "scans")
    camera_raw(root / "dog" / "IMG_0001.CR2")
    (root / "owl" / "notes.txt").write_text("scanned 2026-11-01")
    with pytest.raises(RunnerError) as refused:
        dir_source(root).index()
    said = str(refused.value)
    assert said == (
        f"data.path: no images in '{root}' (looked for jpg, jpeg, png, bmp, gif, webp files in the "
        f"class subfolders cat, dog, owl). There are 6 .tif files of a type Pillow reads: take them "
        f"with data.extensions=[jpg,jpeg,png,bmp,gif,webp,tif]. There is 1 .cr2 file (a camera's raw "
        f"files), of a type Pillow cannot read: convert it to JPEG or PNG first."
    )
    # The fix it gives reads every scan, the .TIF too; the raw file and the notes are skipped, listed.
    extensions = re.search(r"data.extensions=\[(.*?)\]", said).group(1).split(",")
    index = dir_source(root, extensions=extensions).index()
    assert len(index) == 6
    assert [Path(path).name for path, _ in index.skipped] == ["IMG_0001.CR2", "notes.txt"]
    # Asked for anyway, the raw file is skipped with why, in the same words.
    index = dir_source(root, extensions=["tif", "cr2"], verify=Verify.header, cache=Cache.none).index()
    [why] = [why for path, why in index.skipped if path.endswith(".CR2")]
    assert why == (
        "of a type Pillow cannot read (.cr2, a camera's raw files): convert it to JPEG or PNG first"
    )
    assert "1 of a type Pillow cannot read (.cr2, a camera's raw files)" in index.summary()


def test_an_iphones_heic_photos_are_read_with_the_heic_extra(tmp_path):
    # pip install 'runner[heic]' (pillow-heif): Pillow opens them, in the check and the decoder alike.
    import pillow_heif  # written by its own API: the runner's opening of them is what is tested

    root = photo_folder(tmp_path / "iphone", per_class=2)
    colours = []
    for image in sorted(root.rglob("*.*g")):
        colours.append(np.asarray(Image.open(image).convert("RGB")).reshape(-1, 3).mean(0))
        pillow_heif.from_pillow(Image.open(image).convert("RGB")).save(image.with_suffix(".HEIC"), quality=95)
        image.unlink()
    with pytest.raises(RunnerError, match="There are 6 .heic files of a type Pillow reads: take them with"):
        dir_source(root).index()
    index = dir_source(root, extensions=["heic"], cache=Cache.none).index()
    assert len(index) == 6 and not index.skipped
    decoder = Decoder(30, 40, ColorMode.rgb, Interpolation.bilinear)
    images, kept, failed = decode_batch(index.paths, decoder, True)
    assert kept == list(range(6)) and not failed
    # Each of its own colour (HEIC is lossy): the cats red, the dogs blue, the owls green.
    np.testing.assert_allclose(images.reshape(6, -1, 3).mean(1), colours, atol=8)


def test_files_of_other_types_beside_the_images_are_said_once_with_the_fix(tmp_path, caplog):
    root = photo_folder(tmp_path / "photos", per_class=2)
    Image.open(root / "cat" / "cat00.png").save(root / "cat" / "scan.tiff")
    caplog.set_level(logging.WARNING)
    index = dir_source(root).index()
    assert len(index) == 6
    assert caplog.text.count("has files of other types") == 1
    assert (
        f"data.path: '{root}' has files of other types than data.extensions. There is 1 .tiff file "
        f"of a type Pillow reads: take it with data.extensions=[jpg,jpeg,png,bmp,gif,webp,tiff]."
    ) in caplog.text
    caplog.clear()
    assert len(dir_source(root, extensions=["jpg", "png", "TIFF"]).index()) == 7
    assert "other types" not in caplog.text


def test_only_image_types_are_said_and_types_already_read_are_not():
    files = ["a/1.tif", "a/2.TIF", "b/3.tiff", "notes.txt", "labels.csv", "a/4.jpg", "raw/5.CR2"]
    assert other_types(files, ["jpg"]) == (
        " There are 2 .tif and 1 .tiff files of types Pillow reads: take them with "
        "data.extensions=[jpg,tif,tiff]. There is 1 .cr2 file (a camera's raw files), of a type "
        "Pillow cannot read: convert it to JPEG or PNG first."
    )
    assert other_types(files, [".TIF", "tiff", "jpg"], run=True) == (
        " There is 1 .cr2 file (a camera's raw files), of a type Pillow cannot read: convert it to "
        "JPEG or PNG first."
    )
    assert other_types(["a.tif", "b.tif"], ["jpg"], run=True) == (
        " There are 2 .tif files of a type the run did not train on."
    )
    assert other_types(["notes.txt", "x.eps", "y.pdf"], ["jpg"]) == ""  # Pillow decodes none of them
    # An iPhone's photos, where pillow-heif is not installed (it is here, for the test above).
    assert cannot_read("heic", 2) == (
        "of a type Pillow cannot read: convert them to JPEG or PNG first, or pip install "
        "'runner[heic]' to read them"
    )


def test_a_past_run_is_read_for_the_types_it_trained_on():
    assert of_run({"extensions": ["TIF"], "pattern": "x"}) == ["TIF"]  # data=dir: data.extensions
    # data=glob has no data.extensions: the usual types, and the one its pattern names.
    assert of_run({"pattern": "scans/*/*.TIF"}) == ["jpg", "jpeg", "png", "bmp", "gif", "webp", "tif"]
    assert of_run({"pattern": "photos/**/*.jpg"}) == ["jpg", "jpeg", "png", "bmp", "gif", "webp"]
    assert of_run({"pattern": "scans/*.[jt]*"}) == of_run({"pattern": "photos/*"}) == of_run({})


def test_a_class_of_scans_among_photos_is_refused_with_the_extensions_that_read_it(tmp_path):
    root = photo_folder(tmp_path / "photos", per_class=2)
    for image in sorted((root / "owl").iterdir()):
        Image.open(image).save(image.with_suffix(".tif"))
        image.unlink()
    with pytest.raises(RunnerError) as refused:
        dir_source(root).index()
    assert str(refused.value).startswith("data: class 'owl' has no usable image.")
    assert str(refused.value).endswith(
        "There are 2 .tif files of a type Pillow reads: take them with "
        "data.extensions=[jpg,jpeg,png,bmp,gif,webp,tif]."
    )


def test_a_pattern_of_raw_files_alone_names_their_type_and_leaves_no_class_to_leave_out(tmp_path):
    # data.class_names=[] was the advice: leave every class out.
    for name in ("a", "b"):
        camera_raw(tmp_path / "raw" / name / "IMG_1.CR2")
    with pytest.raises(RunnerError) as refused:
        GlobSource(pattern=str(tmp_path / "raw" / "*" / "*.CR2"), cache=Cache.none).index()
    said = str(refused.value)
    assert said.startswith(
        "data: no class has a usable image (classes 'a', 'b'). (2 files skipped: 2 of a type Pillow "
        "cannot read (.cr2, a camera's raw files): "
    ), said
    assert "class_names" not in said
