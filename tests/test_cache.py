"""The decode-once cache: memory and disk, reused only while nothing it depends on changed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import weakref
from pathlib import Path

import numpy as np
import pytest
from conftest import at_once, messy_folder, photo_folder
from PIL import Image

from runner import cache, liveness
from runner.decode import Decoder
from runner.errors import RunnerError
from runner.schemas.data import Cache, ColorMode, Interpolation


def decoder(size: int = 16) -> Decoder:
    return Decoder(size, size, ColorMode.rgb, Interpolation.bilinear)


def paths_of(root) -> list[str]:
    return sorted(str(p) for p in root.rglob("*.*"))


def test_memory_and_disk_caches_hold_the_same_pixels(tmp_path):
    paths = paths_of(photo_folder(tmp_path / "photos", per_class=2))
    in_memory, _ = cache.load(paths, decoder(), Cache.memory, str(tmp_path / "c"))
    on_disk, _ = cache.load(paths, decoder(), Cache.disk, str(tmp_path / "c"))
    assert isinstance(on_disk, np.memmap)
    assert in_memory.shape == (6, 16, 16, 3) and in_memory.dtype == np.uint8
    np.testing.assert_array_equal(in_memory.numpy(), on_disk)


def test_memory_cache_is_not_copied_by_its_first_gather():
    # A variable over a NumPy buffer (DLPack), or one with NumPy's own view of it alive, is copied
    # whole by its first tf.gather: 2x the cache at the peak. A fresh process, so that the
    # kernel's peak-RSS figure is this cache's.
    script = """
import resource, tensorflow as tf
from runner import cache
images, _ = cache.memory_cache((1000, 224, 224, 3), lambda rows: rows.fill(7))  # 150 MB
view = cache.numpy_view(images)  # as an augmented pipeline reads it, beside the variable's gathers
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
assert int(tf.gather(images, [0, 999])[1, 0, 0, 0]) == 7 and view[999, 0, 0, 0] == 7
del images  # the view keeps the memory alive
assert view[999, 223, 223, 2] == 7 and not view.flags.writeable
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert int(result.stdout.split()[-1]) < 50  # MB the first gather added to the peak


def test_disk_cache_is_reused_when_nothing_changed(tmp_path):
    paths = paths_of(photo_folder(tmp_path / "photos", per_class=2))
    first, _ = cache.load(paths, decoder(), Cache.disk, str(tmp_path / "c"))
    [written] = (tmp_path / "c").glob("*[0-9a-f].npy")
    inode = written.stat().st_ino  # a cache written again is a new file renamed into place
    second, _ = cache.load(paths, decoder(), Cache.disk, str(tmp_path / "c"))
    assert written.stat().st_ino == inode and len(list((tmp_path / "c").glob("*.npy"))) == 1
    np.testing.assert_array_equal(first, second)


def test_a_damaged_disk_cache_is_decoded_again_not_read(tmp_path, caplog):
    # Cut short by a disk error, or by a copy of the cache folder that stopped: NumPy's memmap of
    # it raised in the run ("mmap length is greater than file size"), a traceback.
    paths = paths_of(photo_folder(tmp_path / "photos", per_class=2))
    folder = tmp_path / "c"
    expected = np.array(cache.load(paths, decoder(), Cache.disk, str(folder))[0])
    [data] = folder.glob("*[0-9a-f].npy")
    size = data.stat().st_size
    with open(data, "r+b") as file:
        file.truncate(1000)
    again, bad = cache.load(paths, decoder(), Cache.disk, str(folder))
    np.testing.assert_array_equal(again, expected)
    assert bad == {} and data.stat().st_size == size
    assert (
        f"disk cache file {data} is damaged (1,000 bytes, too few for 6 images of 16×16×3 bytes): "
        f"decoding the images again"
    ) in caplog.text
    # Its record of the files that failed, unreadable: decoded again too, and the record rewritten.
    failures = folder / data.name.replace(".npy", ".failed.json")
    failures.write_text("{")
    caplog.clear()
    again, bad = cache.load(paths, decoder(), Cache.disk, str(folder))
    np.testing.assert_array_equal(again, expected)
    assert bad == {} and json.loads(failures.read_text()) == {}
    assert f"disk cache file {failures} is damaged (" in caplog.text


def test_a_sweeps_next_job_reads_the_memory_cache_its_process_kept(tmp_path, monkeypatch):
    monkeypatch.setattr(cache, "KEPT", {})
    paths = paths_of(photo_folder(tmp_path / "photos", per_class=2))
    alone, _ = cache.load(paths, decoder(), Cache.memory, str(tmp_path / "c"))
    assert cache.load(paths, decoder(), Cache.memory, str(tmp_path / "c"))[0] is not alone
    assert cache.KEPT == {}  # a single run holds nothing past its own use
    monkeypatch.setattr(cache, "KEEPING", True)  # as __main__ does for a sweep's jobs
    first, _ = cache.load(paths, decoder(), Cache.memory, str(tmp_path / "c"))
    assert cache.load(paths, decoder(), Cache.memory, str(tmp_path / "c"))[0] is first
    # A file rewritten between jobs: decoded again, and the earlier cache let go first.

    Image.new("RGB", (30, 30), (255, 255, 255)).save(paths[0])
    os.utime(paths[0], ns=(1, 10**18))
    earlier = weakref.ref(first)
    del first
    changed, _ = cache.load(paths, decoder(), Cache.memory, str(tmp_path / "c"))
    assert earlier() is None and cache.numpy_view(changed)[0].min() == 255
    resized, _ = cache.load(paths, decoder(size=8), Cache.memory, str(tmp_path / "c"))
    assert resized.shape[1:] == (8, 8, 3) and len(cache.KEPT) == 1
    # What is kept counts as free memory for the next job's choice: it goes before that is made.
    cache.KEPT["other"] = (np.broadcast_to(np.uint8(0), (10**6, 1000, 1000, 3)), {})  # no memory
    assert cache.choose(Cache.memory, (10**6, 1000, 1000, 3)) == Cache.memory


def test_two_runs_building_the_same_disk_cache_at_once_both_get_it(tmp_path):
    # A parallel sweep: two processes miss the cache together and both write it.
    paths = paths_of(photo_folder(tmp_path / "photos", per_class=100))
    script = f"""
import numpy as np
from runner import cache
from runner.schemas.data import Cache, ColorMode, Interpolation
from runner.decode import Decoder
images, bad = cache.load({paths!r}, Decoder(64, 64, ColorMode.rgb, Interpolation.bilinear), Cache.disk,
                         {str(tmp_path / "c")!r})
print(int(images.astype(np.int64).sum()), len(bad))
"""
    outputs = at_once(script, tmp_path / "go")
    assert outputs[0] == outputs[1] and int(outputs[0][0]) > 0
    written = sorted(p.name.split(".", 1)[1] for p in (tmp_path / "c").iterdir())
    assert written == ["failed.json", "json", "npy"]


def test_a_partial_disk_cache_of_a_run_that_died_writing_it_is_removed_by_the_next(tmp_path):
    # SIGKILL or the out-of-memory killer mid-fill: a file as big as the cache, left behind.
    folder = tmp_path / "c"
    folder.mkdir()
    ended = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    # Named as liveness.partial names them: this machine (host, boot, pid namespace) as a digest.
    dead, here = ended.stdout.strip(), liveness.machine_digest()
    owners = {"dead": f"{here}.{dead}", "alive": f"{here}.{os.getpid()}", "elsewhere": f"0123456789ab.{dead}"}
    for owner in owners.values():
        partial = folder / f"0123abcd.{owner}.partial.npy"
        partial.write_bytes(b"half a cache")
        partial.with_suffix(".json").write_text("{}")
    cache.load(paths_of(photo_folder(tmp_path / "photos", per_class=2)), decoder(), Cache.disk, str(folder))
    left = {p.name for p in folder.glob("*.partial.*")}
    assert left == {
        f"0123abcd.{owners[o]}.partial.{s}" for o in ("alive", "elsewhere") for s in ("npy", "json")
    }


def test_disk_cache_is_rebuilt_when_a_file_or_a_parameter_changes(tmp_path):
    paths = paths_of(photo_folder(tmp_path / "photos", per_class=2))
    folder = tmp_path / "c"
    original, _ = cache.load(paths, decoder(), Cache.disk, str(folder))
    # A file rewritten in place (new content, new mtime): a new cache with the new pixels.

    Image.new("RGB", (30, 30), (255, 255, 255)).save(paths[0])
    os.utime(paths[0], ns=(1, 10**18))
    changed, _ = cache.load(paths, decoder(), Cache.disk, str(folder))
    assert changed[0].min() == 255 and not np.array_equal(changed[0], original[0])
    # A preprocessing parameter: a third cache.
    resized, _ = cache.load(paths, decoder(size=8), Cache.disk, str(folder))
    assert resized.shape[1:] == (8, 8, 3)
    assert len(list(folder.glob("*[0-9a-f].npy"))) == 3


def test_failures_are_reported_and_remembered_by_the_disk_cache(tmp_path):
    root, bad, _ = messy_folder(tmp_path / "messy")
    paths = [p for p in paths_of(root) if not p.endswith((".txt", "empty.jpg", "text.jpg"))]
    for _ in range(2):  # built, then reused
        _, failed = cache.load(paths, decoder(), Cache.disk, str(tmp_path / "c"))
        assert {paths[i] for i in failed} == {
            str(root / "dog" / "truncated.png"),
            str(root / "dog" / "garbage.jpg"),
        }


def test_a_generators_arrays_with_cache_none_are_resized_in_memory_not_on_disk(tmp_path):
    arrays = [np.full((20, 24, 3), i, np.uint8) for i in range(4)]
    images, bad = cache.load(arrays, decoder(), Cache.none, str(tmp_path / "c"))
    assert not bad and not (tmp_path / "c").exists()
    np.testing.assert_array_equal(cache.numpy_view(images)[:, 0, 0, 0], [0, 1, 2, 3])


def test_auto_picks_memory_when_it_fits():
    assert cache.choose(Cache.auto, (10, 32, 32, 3)) == Cache.memory
    assert cache.choose(Cache.auto, (10**6, 1000, 1000, 3)) == Cache.disk
    assert cache.choose(Cache.disk, (10, 32, 32, 3)) == Cache.disk


def test_a_memory_cache_larger_than_the_memory_is_refused_before_decoding():
    with pytest.raises(RunnerError, match=r"data.cache=memory: the cache needs 3000.0 GB \(1,000,000 images"):
        cache.choose(Cache.memory, (10**6, 1000, 1000, 3))
    assert cache.choose(Cache.memory, (10, 32, 32, 3)) == Cache.memory


def test_a_disk_cache_larger_than_the_free_space_is_refused_before_decoding(tmp_path):
    files = [str(p) for p in photo_folder(tmp_path / "photos", per_class=2).rglob("*") if p.is_file()]
    huge = Decoder(100_000, 100_000, ColorMode.rgb, Interpolation.bilinear)
    with pytest.raises(RunnerError, match=r"data.cache_dir=.*the disk cache needs .* GB is free there"):
        cache.load(files, huge, Cache.disk, str(tmp_path / "new" / "cache"))
    assert not (tmp_path / "new").exists()  # refused before anything was written


@pytest.mark.skipif(not Path("/sys/kernel").is_dir(), reason="needs Linux's sysfs: a folder no one may write")
def test_a_cache_dir_that_cannot_be_written_says_what_to_do(tmp_path):
    paths = paths_of(photo_folder(tmp_path / "photos", per_class=1))
    with pytest.raises(RunnerError, match=r"data.cache_dir=/sys/kernel: cannot write .* data.cache=memory"):
        cache.load(paths, decoder(), Cache.disk, "/sys/kernel")
