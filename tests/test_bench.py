"""`python -m runner.bench`: the JSON report's shape, and that every loader read the same images."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from importlib import metadata

import numpy as np
import pytest
from conftest import photo_folder

from runner.bench.loaders import loaders
from runner.bench.measure import measure_in_turns
from runner.cpus import usable_cores
from runner.provenance import cpu

LOADERS = {"runner", "ids", "manual", "idg", "decode"}


def bench(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "runner.bench", *args], capture_output=True, text=True, cwd=cwd, timeout=300
    )


def test_bench_json_on_a_tiny_folder(tmp_path):
    folder = str(tmp_path / "photos")
    args = ["--make", "40", "--make-size", "64", "48", "--size", "32", "--batch", "8", "--passes", "1"]
    result = bench(folder, *args, "--cache", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)  # stdout is the JSON object and nothing else
    assert set(report) >= LOADERS
    for name in LOADERS:
        figures = report[name]
        assert figures["images"] == 40, name  # every loader saw every image, once per pass
        for key in ("first_img_s", "cold_img_s", "warm_img_s", "peak_rss_mb"):
            assert figures[key] > 0, (name, key)
        assert len(figures["cold_passes"]) == len(figures["warm_passes"]) == 1
    # uint8 at the target size vs the float32 batches image_dataset_from_directory caches.
    assert abs(report["cache"]["ratio"] - 0.25) < 0.01
    # What they were measured on, as a run records its CPU: figures mean little without it.
    machine = report["machine"]
    assert machine["cpu"] == cpu() and machine["usable_cores"] == usable_cores()
    assert machine["memory_gb"] > 0 and machine["versions"]["keras"] == metadata.version("keras")


def test_loaders_take_their_passes_in_turns_and_one_that_fails_stops_alone():
    # A slow minute of a shared host then lands on every loader alike. Loaders here are plain
    # lists of batches: what is measured is the turns, not a decoder.
    built = []

    def loader(name: str, fails_at: int = 0):
        def make():
            built.append(name)
            if built.count(name) == fails_at:
                raise OSError(f"{name}.jpg: image file is truncated\nmore detail")
            return [(np.zeros((4, 2)), np.zeros(4))] * 3

        return make

    report = measure_in_turns({"a": loader("a"), "b": loader("b", fails_at=2), "c": loader("c")}, 2)
    # First passes in order, then each round: a, b, c (b failed in the first round, and stopped).
    assert built == ["a", "b", "c", "a", "b", "c", "a", "c"]
    assert report["b"] == {"error": "OSError: b.jpg: image file is truncated"}
    for name in ("a", "c"):
        assert report[name]["images"] == 12 and len(report[name]["cold_passes"]) == 2, name


def test_bench_index_scale_reports_time_and_memory(tmp_path):
    result = bench("--index-files", "2000", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)
    assert report["files"] == 2000 and report["seconds"] > 0 and report["peak_rss_mb"] > 0


def test_bench_runner_without_cache_and_unknown_loaders(tmp_path):
    folder = str(tmp_path / "photos")
    args = [
        folder,
        "--make",
        "24",
        "--make-size",
        "40",
        "30",
        "--size",
        "16",
        "--batch",
        "8",
        "--passes",
        "1",
    ]
    result = bench(*args, "--loaders", "runner_nocache,ids", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert list(report) == ["machine", "runner_nocache", "ids"]  # the machine first, then as asked
    assert report["runner_nocache"]["images"] == report["ids"]["images"] == 24  # decoded every epoch
    wrong = bench(folder, "--loaders", "runner,idss", cwd=tmp_path)
    assert wrong.returncode == 2
    assert "unknown idss; choose from runner, ids" in wrong.stderr.splitlines()[-1]
    assert wrong.stderr.splitlines()[-1].endswith("Did you mean 'ids'?")


def test_bench_on_a_messy_folder_reports_the_loaders_that_crash(tmp_path):
    from conftest import messy_folder

    root, _, good = messy_folder(tmp_path / "messy")
    args = ["--size", "16", "--batch", "4", "--passes", "1", "--loaders", "runner,ids,idg", "--json"]
    result = bench(str(root), *args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert report["runner"]["images"] == good  # the bad files left out, every good one read
    for keras_loader in ("ids", "idg"):  # one corrupt file stops each of them
        assert set(report[keras_loader]) == {"error"} and report[keras_loader]["error"], keras_loader


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["missing"], "DIR: 'missing' is not a folder; give one of class subfolders, or --make N. Did"),
        (["missing"], "--make N. Did you mean 'missed'?"),
        ([".", "--size", "0"], "argument --size: '0' is not a whole number of at least 1"),
        ([".", "--passes", "x"], "argument --passes: 'x' is not a whole number of at least 1"),
    ],
)
def test_bench_arguments_are_checked(args, expected, tmp_path):
    (tmp_path / "missed").mkdir()  # the folder 'missing' may mean
    result = bench(*args, cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert expected in result.stderr.splitlines()[-1]


def test_bench_fit_times_epochs_of_the_runner_ids_and_compute_alone(tmp_path):
    folder = str(tmp_path / "photos")
    args = ["--make", "40", "--make-size", "64", "48", "--size", "32", "--batch", "8"]
    result = bench(folder, *args, "--loaders", "runner", "--passes", "1", "--fit", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "shuffle=True" not in result.stderr  # Keras's warning that it ignores it for a dataset
    fit = json.loads(result.stdout)["fit"]
    assert list(fit) == ["runner", "ids", "compute"]
    for name, figures in fit.items():
        assert len(figures["epoch_s"]) == 3 and all(s > 0 for s in figures["epoch_s"]), name
        assert figures["median_epoch_s"] == sorted(figures["epoch_s"])[1], name
    assert fit["runner"]["build_s"] > 0  # indexing the files and filling the cache, before its epochs
    # Their epochs take turns, so that a slow minute of the host is not one loader's alone: each
    # begins after the one before it (in turn) ended (give or take the figures' rounding).
    turns = [(fit[name]["started_s"][e], fit[name]["epoch_s"][e]) for e in range(3) for name in fit]
    ended = [(start + took, after) for (start, took), (after, _) in itertools.pairwise(turns)]
    assert all(end <= after + 0.02 for end, after in ended), turns


def test_the_runners_warm_pass_is_its_next_epoch_from_the_same_iterator(tmp_path):
    # As fit reads the runner's dataset (all epochs, steps_per_epoch): each pass is the next
    # epoch, in its own order; a new iterator would deal epoch 0 again.
    epochs = loaders(photo_folder(tmp_path / "photos"), size=16, batch=8)["runner"]()
    cold, warm = ([x.numpy() for x, _ in epochs] for _ in range(2))
    assert [len(x) for x in cold] == [len(x) for x in warm] == [8, 8, 8, 8, 4]  # 36 images
    cold, warm = np.concatenate(cold), np.concatenate(warm)
    assert not np.array_equal(cold, warm)  # another order
    assert sorted(map(bytes, cold)) == sorted(map(bytes, warm))  # of the same images
