"""runner.sources.patterns: what a glob pattern stands on, and why one matched nothing (through
GlobSource, as a run reads it; runner.predict's own in tests/test_predict.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import photo_folder

from runner.errors import RunnerError
from runner.sources import GlobSource
from runner.sources.patterns import fixed_prefix


def test_the_folder_of_a_pattern_is_its_part_before_the_first_wildcard():
    assert fixed_prefix("photos/**/*.jpg") == Path("photos")
    assert fixed_prefix("/data/pets/cat[0-9].png") == Path("/data/pets")
    assert fixed_prefix("*.jpg") == Path(".")


def test_a_pattern_that_matches_nothing_says_what_it_nearly_matched(tmp_path, monkeypatch):
    photo_folder(tmp_path / "photos", per_class=2)  # cat00.png, cat01.jpg, dog00.png, ... owl01.jpg
    (tmp_path / "empty").mkdir()
    monkeypatch.chdir(tmp_path)

    def refusal(pattern: str) -> str:
        with pytest.raises(RunnerError) as refused:
            GlobSource(pattern=pattern).index()
        said = str(refused.value)
        assert said.startswith(f"data.pattern='{pattern}': matches no files. ")
        return said.split("matches no files. ", 1)[1]

    assert refusal("photoz/*/*.jpg") == (
        f"'photoz' does not exist in the working directory, '{tmp_path}'. Did you mean 'photos'?"
    )
    assert refusal("photos/*/*.JPG") == (
        "3 files would match in another case, e.g. 'photos/cat/cat01.jpg' (case counts here): "
        "data.pattern='photos/*/*.[jJ][pP][gG]' matches any."
    )
    assert len(GlobSource(pattern="photos/*/*.[jJ][pP][gG]").index()) == 3  # as it says
    assert refusal("photos/*.png") == (
        "data.pattern='photos/**/*.png' matches 3 files in subfolders, e.g. 'photos/cat/cat00.png'."
    )
    assert refusal("photos/*.JPG") == (  # a camera's name, the files in subfolders: both at once
        "data.pattern='photos/**/*.[jJ][pP][gG]' matches 3 files in subfolders (in another case: case "
        "counts here), e.g. 'photos/cat/cat01.jpg'."
    )
    assert refusal("photos/*/*.tif") == "The files under 'photos' end in .jpg (3), .png (3)."
    assert refusal("empty/*.jpg") == "'empty' holds no files."
