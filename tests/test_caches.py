"""`python -m runner.caches`: the disk caches, what each was made from, and removing old ones."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import error_lines, photo_folder, probe_cli, run_cli

from runner import cache, liveness
from runner.decode import Decoder
from runner.schemas.data import Cache, ColorMode, Interpolation

DAY = 86400


def disk_cache(folder, size: int, cache_dir) -> list:
    """A disk cache of ``folder``'s images at ``size``², as a run makes it; its files."""
    paths, decoder = (
        sorted(str(p) for p in folder.rglob("*.*")),
        Decoder(size, size, ColorMode.rgb, Interpolation.bilinear),
    )
    cache.load(paths, decoder, Cache.disk, str(cache_dir))
    return sorted(cache_dir.glob(f"{cache.digest(paths, decoder)}.*"))


def test_caches_are_listed_with_their_source_and_old_ones_removed(tmp_path):
    photos, caches = photo_folder(tmp_path / "photos", per_class=2), tmp_path / "caches"
    old, recent = disk_cache(photos, 8, caches), disk_cache(photos, 16, caches)
    assert [p.name.split(".", 1)[1] for p in old] == ["failed.json", "json", "npy"]
    about = json.loads(old[1].read_text())  # what it was made from, in the words of the config
    assert about["source"] == str(photos) and about["preprocessing"]["color_mode"] == "rgb"
    (caches / "digits").mkdir()  # the embedded data set's folder, beside the caches: no cache
    np.save(caches / "mine.npy", np.zeros(3))  # nor is an array someone saved there
    for files, days in ((old, 41), (recent, 40)):
        os.utime(files[2], (time.time() - days * DAY,) * 2)

    listed, heavy = probe_cli("--cache-dir", str(caches), cwd=tmp_path, module="runner.caches")
    assert heavy == []  # a listing in a blink: no TensorFlow, no MLflow
    header, first, second, hint = listed.splitlines()
    assert header.startswith(f"runner: 2 disk caches in {caches}: ")
    assert first.split()[0] == old[2].stem and "(41 days ago)" in first  # least recently used first
    assert first.endswith(f"6 images of 8×8×3  {photos}") and second.endswith(
        f"6 images of 16×16×3  {photos}"
    )
    assert hint == f"remove them: python -m runner.caches --cache-dir {caches} --delete"

    # A run that reads a cache marks it used: it is no longer one to remove.
    disk_cache(photos, 16, caches)
    result = run_cli(
        "--cache-dir", str(caches), "--unused-for", "30", "--delete", cwd=tmp_path, module="runner.caches"
    )
    assert result.returncode == 0 and "runner: 1 disk cache unused for 30 days" in result.stdout
    assert "runner: removed 1 disk cache" in result.stdout
    assert not any(p.exists() for p in old) and all(p.exists() for p in recent)
    assert (caches / "digits").is_dir() and (caches / "mine.npy").is_file()


def test_a_cache_from_before_this_command_is_listed_without_a_source(tmp_path):
    photos, caches = photo_folder(tmp_path / "photos", per_class=2), tmp_path / "caches"
    files = disk_cache(photos, 8, caches)
    files[1].unlink()  # <digest>.json: what an older runner did not write
    result = run_cli("--cache-dir", str(caches), cwd=tmp_path, module="runner.caches")
    assert "6 images of 8×8×3  (not recorded: written before runner.caches)" in result.stdout
    run_cli("--cache-dir", str(caches), "--delete", cwd=tmp_path, module="runner.caches")
    assert list(caches.iterdir()) == []
    again = run_cli("--cache-dir", str(caches), "--delete", cwd=tmp_path, module="runner.caches")
    assert again.stdout.splitlines() == [f"runner: 0 disk caches in {caches}: 0.0 MB"]  # nothing to do


def test_a_cache_dir_that_does_not_exist_is_refused_with_the_nearest(tmp_path):
    # It listed "0 disk caches in .../cahces": a typo read as a folder without caches.
    (tmp_path / "caches").mkdir()
    result = run_cli("--cache-dir", str(tmp_path / "cahces"), cwd=tmp_path, module="runner.caches")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    [line] = error_lines(result)
    assert line == (
        f"runner: error: --cache-dir {tmp_path / 'cahces'}: no such folder. "
        f"Did you mean '{tmp_path / 'caches'}'?"
    )


def test_a_cache_that_cannot_be_removed_is_one_line(tmp_path):
    caches = tmp_path / "caches"
    (caches / "0123.npy").mkdir(parents=True)  # unlink refuses a folder, as it would another's file
    (caches / "0123.failed.json").write_text("{}")
    result = run_cli("--cache-dir", str(caches), "--delete", cwd=tmp_path, module="runner.caches")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    [line] = error_lines(result)
    assert line.startswith(f"runner: error: cannot remove {caches / '0123.npy'} (Is a directory).")


def test_a_partial_cache_whose_writer_died_is_listed_and_removed(tmp_path):
    caches = tmp_path / "caches"
    caches.mkdir()
    ended = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    # Named as liveness.partial names them: this machine as a digest, then the writer's pid.
    dead = caches / f"0123abcd.{liveness.machine_digest()}.{ended.stdout.strip()}.partial.npy"
    np.lib.format.open_memmap(dead, mode="w+", dtype=np.uint8, shape=(5, 8, 8, 3))
    writing = liveness.partial(caches, "4567abcd", ".npy")  # this test's: still being written
    np.lib.format.open_memmap(writing, mode="w+", dtype=np.uint8, shape=(5, 8, 8, 3))
    listed, _ = probe_cli("--cache-dir", str(caches), cwd=tmp_path, module="runner.caches")
    [entry] = [line for line in listed.splitlines() if line.startswith("  ")]
    assert entry.split()[0] == "0123abcd"
    assert entry.endswith("5 images of 8×8×3  (a partial cache: the run writing it died)")
    run_cli("--cache-dir", str(caches), "--delete", cwd=tmp_path, module="runner.caches")
    assert list(caches.iterdir()) == [writing]


def test_days_are_a_whole_number_or_written_with_a_d(capsys):
    from runner.caches import days, main

    assert days("30") == 30 and days("30d") == 30 and days("0") == 0
    for given in ("abc", "-1", "1.5"):
        with pytest.raises(SystemExit):
            main(["--unused-for", given])
        line = capsys.readouterr().err.splitlines()[-1]
        assert line == (
            f"python -m runner.caches: error: argument --unused-for: '{given}' is not a number of days, "
            f"0 or more (0: every cache)"
        )
