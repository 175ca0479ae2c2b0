"""What a glob pattern (``data.pattern``, or one ``runner.predict`` is given) stands on, and why
one matched nothing: the folder it may mean, the names in another case, the files in subfolders
it does not go down into, or what the files there are."""

from __future__ import annotations

import glob
import itertools
import os
import re
from collections import Counter
from pathlib import Path

from runner.words import closest_path, counted

WILDCARDS = re.compile(r"[*?\[]")


def fixed_prefix(pattern: str) -> Path:
    """The folder part of a pattern before its first wildcard: 'photos/**/*.jpg' -> 'photos'."""
    parts = Path(pattern).parts
    first = next((i for i, part in enumerate(parts) if WILDCARDS.search(part)), len(parts))
    return Path(*parts[:first]) if first else Path(".")


def near_misses(pattern: str, key: str = "data.pattern=") -> str:
    """Why a pattern matched nothing, where it can be told: its folder is not there (and the one it
    may mean), the files' names differ only in case (``*.jpg`` against ``IMG_1.JPG``: glob is
    case-sensitive here), they lie in subfolders it does not go down into, or what they are. A
    pattern that would match is given as ``key`` takes it (``runner.predict``'s: as a path alone)."""
    expanded = os.path.expanduser(pattern)
    folder, name = fixed_prefix(expanded), os.path.basename(expanded)
    if not folder.is_dir():
        where = "" if folder.is_absolute() else f" in the working directory, '{os.getcwd()}'"
        return f"'{folder}' does not exist{where}.{closest_path(folder)}"
    if "[" not in name and name != (other_case := any_case(name)):  # 'IMG_1.JPG' for '*.jpg'
        mended = os.path.join(os.path.dirname(pattern), other_case)
        if found := sorted(glob.glob(os.path.expanduser(mended), recursive=True)):
            return (
                f"{counted(len(found), 'file')} would match in another case, e.g. '{found[0]}' (case counts "
                f"here): {key}'{mended}' matches any."
            )
    for named, case in ((name, ""), (any_case(name), " (in another case: case counts here)")):
        deeper = os.path.join(str(fixed_prefix(pattern)), "**", named)
        if "**" not in pattern and (found := sorted(glob.glob(os.path.expanduser(deeper), recursive=True))):
            return (
                f"{key}'{deeper}' matches {counted(len(found), 'file')} in subfolders{case}, e.g. "
                f"'{found[0]}'."
            )
    files = (f for f in glob.iglob(f"{folder}/**/*", recursive=True) if os.path.isfile(f))
    kinds = Counter(Path(f).suffix.lower() or "(none)" for f in itertools.islice(files, 10_000))
    if not kinds:
        return f"'{folder}' holds no files."
    commonest = sorted(kinds.items(), key=lambda kind: (-kind[1], kind[0]))[:5]
    endings = ", ".join(f"{ending} ({count})" for ending, count in commonest)
    return f"The files under '{folder}' end in {endings}."


def any_case(name: str) -> str:
    """``name`` as a pattern that matches its letters in either case: '*.jpg' -> '*.[jJ][pP][gG]'."""
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in name)
