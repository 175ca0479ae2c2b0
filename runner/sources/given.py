"""The image files a command is given (``runner.predict``'s PATH...): files, folders of them and
patterns the shell left alone (quoted, or Windows'), as a run's folder is read: the types it
trained on, what is hidden left out, and the files of other types said, not silently dropped."""

from __future__ import annotations

import glob
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from runner.errors import RunnerError
from runner.schemas.data import IMAGE_EXTENSIONS
from runner.sources.filetypes import other_types
from runner.sources.folders import list_files
from runner.sources.index import NOT_UTF8, as_suffixes, named_as_image, text_names
from runner.sources.patterns import near_misses
from runner.words import SPLIT, closest_path, counted, rejoined, some

# How to predict files of a type the run did not train on, which its folders and patterns leave out.
ANYWAY = " Name the files themselves to predict them anyway."


def image_files(
    paths: list[str], extensions: Sequence[str] = IMAGE_EXTENSIONS, follow_links: bool = False
) -> list[str]:
    """The files named, and the images under the folders named (files of ``extensions``, the types
    the run trained on), in order; a folder is read as a class folder is in training (what is hidden
    left out; into linked folders with ``follow_links``, each once). Files of other types Pillow reads
    are said, not silently left out."""
    found, others, misnamed = [], [], []
    for name in paths:
        path = Path(name).expanduser()
        if path.is_dir():
            images, other = list_files(path, as_suffixes(extensions), follow_links, [])
            found += sorted(images)
            others += [file for file, why in other if why != NOT_UTF8]
            misnamed += [(file, why) for file, why in other if why == NOT_UTF8]
        elif path.is_file():
            found.append(str(path))
        elif any(c in name for c in "*?["):  # a pattern the shell left alone (quoted, or Windows')
            found += matching(name, extensions)
        else:
            raise RunnerError(
                f"{name}: no such file or folder.{meant(name, paths)} Give image files or folders of them."
            )
    found, named = text_names(found, [])  # a name in another encoding: no CSV line can hold it
    for file, reason in misnamed + named:
        print(f"runner: skipped {file}: {reason}", file=sys.stderr)
    others = other_types(others, extensions, run=True)
    if not found:
        raise RunnerError(
            f"{some(paths, sep=' ')}: no images there (extensions: {', '.join(extensions)}).{others}"
            + ANYWAY * bool(others)
        )
    if others:
        print(f"runner: {some(paths, sep=' ')}: left out files of other types.{others}", file=sys.stderr)
    return found


def meant(name: str, paths: list[str]) -> str:
    """What a missing path may mean: a name with spaces that the shell split ('My' 'Photos' for
    'My Photos'), a near name beside it, or a URL's file, to download first."""
    if whole := rejoined(paths, paths.index(name)):
        return f" '{whole}' is there: {SPLIT}"
    remote = " It reads local files: download it first." if "://" in name else ""
    return closest_path(Path(name)) or remote


def matching(pattern: str, extensions: Sequence[str] = IMAGE_EXTENSIONS) -> list[str]:
    """The image files (by extension, as in a folder) ``pattern`` matches, ``**`` any folders deep."""
    matched = glob.glob(os.path.expanduser(pattern), recursive=True)
    files = sorted(f for f in matched if os.path.isfile(f) and named_as_image(f, extensions))
    if not matched:
        raise RunnerError(f"{pattern}: matches nothing. {near_misses(pattern, key='')}")
    if not files:
        others = other_types(matched, extensions, run=True)
        raise RunnerError(
            f"{pattern}: matches no image file ({counted(len(matched), 'path')} in all).{others}"
            + ANYWAY * bool(others)
        )
    return files
