"""How the runner's messages say things: the nearest valid name or path ("Did you mean ...?"), a
long list cut short, a count with its noun, a command line to paste."""

from __future__ import annotations

import difflib
import os
import re
import shlex
from collections.abc import Iterable, Sequence
from pathlib import Path

# A name Hydra's override grammar reads as the string it is, unquoted (it reads `1` as a number,
# `null` as None, `cät` not at all, and `,` `[` `'` `=` as its own).
HYDRA_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_\-.]*")
# Why a name with spaces came in pieces, and the fix.
SPLIT = "the shell split its name at spaces. Quote it."


def closest(word: str, options: Iterable[str], cutoff: float = 0.5) -> str:
    """' Did you mean 'x'?' for the nearest option, or '' when nothing is close."""
    match = nearest(word, options, cutoff)
    return f" Did you mean '{match}'?" if match else ""


def nearest(word: str, options: Iterable[str], cutoff: float = 0.5) -> str | None:
    """The option nearest ``word``, if any is close (difflib's ratio at ``cutoff`` or more). Case is
    ignored: 'RGB' is nearest to 'rgb'."""
    by_case = {option.lower(): option for option in options}
    match = difflib.get_close_matches(word.lower(), list(by_case), n=1, cutoff=cutoff)
    return by_case[match[0]] if match else None


def closest_path(path: Path) -> str:
    """' Did you mean 'x'?' for a path that does not exist (``mended``), or ''."""
    mended = mended_path(path)
    return f" Did you mean '{mended}'?" if mended else ""


def mended_path(path: Path) -> Path | None:
    """The path a missing one may mean: its first missing part swapped for the nearest name beside
    it ('~/data/pest/train' -> '~/data/pets/train'), when that path exists. A hidden name is meant
    only for a hidden one."""
    parts = path.parts
    for depth in range(1, len(parts) + 1):
        here = Path(*parts[:depth])
        if here.exists():
            continue
        try:
            beside = [
                entry.name for entry in here.parent.iterdir() if here.name[0] == "." or entry.name[0] != "."
            ]
        except OSError:  # the folder it is in cannot be listed
            return None
        match = nearest_name(here.name, beside)
        mended = here.parent / match / Path(*parts[depth:]) if match else None
        return mended if mended and mended.exists() else None
    return None


def rejoined(words: Sequence[str], at: int) -> str | None:
    """The path ``words[at]`` and those after it name, joined at spaces, where it is there and
    the word alone is not: a name with spaces, unquoted, that the shell split ('My' 'Photos')."""
    for end in range(len(words), at + 1, -1):
        whole = " ".join(words[at:end])
        if Path(whole).expanduser().exists():
            return whole
    return None


def nearest_name(name: str, names: Iterable[str]) -> str | None:
    """The nearest of ``names`` by its stem, among those of the same extension ('lables.csv' ->
    'labels.csv', never 'missing.keras' -> 'rgb.keras' for their shared '.keras'); else one that
    differs in its extension alone ('labels.cvs' -> 'labels.csv')."""
    stem, suffix = os.path.splitext(name)
    alike = {os.path.splitext(n)[0]: n for n in names if os.path.splitext(n)[1].lower() == suffix.lower()}
    if match := nearest(stem, alike):
        return alike[match]
    return nearest(name, [n for n in names if os.path.splitext(n)[0].lower() == stem.lower()])


def shell_join(args: Iterable[str]) -> str:
    """``args`` as a command line to paste into a shell. A value in Hydra's quotes
    (``data.pattern='photos/**/*.jpg'``) goes in double quotes, where ``shlex.join`` would chain
    ``'"'"'``; anything a shell expands inside double quotes keeps shlex's quoting."""
    words = []
    for arg in args:
        quoted = shlex.quote(arg)
        plain = quoted == arg or "'" not in arg or any(c in arg for c in '"$`\\!')
        words.append(quoted if plain else f'"{arg}"')
    return " ".join(words)


def class_names_override(names: Sequence[str], without: Iterable[str] = ()) -> str:
    """``data.class_names=[cat,dog]`` (``names`` less those ``without``), as the runner's messages
    write lists; with a name Hydra's grammar would misread, that name in its quotes and the whole
    quoted for a shell (``"data.class_names=['Bird Species',cat]"``); ``[...]`` past a dozen names,
    which no one pastes."""
    left_out = set(without)
    names = [name for name in names if name not in left_out]
    if len(names) > 12:
        return "data.class_names=[...]"
    override = f"data.class_names=[{','.join(hydra_string(name) for name in names)}]"
    return override if all(map(is_plain, names)) else shell_join([override])


def hydra_string(name: str) -> str:
    """``name`` as a Hydra override reads it back: plain where it can be, else quoted."""
    return name if is_plain(name) else "'" + name.replace("'", "\\'") + "'"


def is_plain(name: str) -> bool:
    """Whether Hydra reads ``name`` unquoted as the string it is."""
    return bool(HYDRA_PLAIN.fullmatch(name)) and name.lower() not in ("null", "true", "false")


def some(names: list[str], most: int = 12, sep: str = ", ") -> str:
    """The first ``most`` of ``names``, then how many there are: a folder of 1,000 class folders
    (or a home folder given as ``data.path``) still gets a one-line message."""
    if len(names) <= most:
        return sep.join(names)
    return f"{sep.join(names[:most])}{sep}... ({len(names)} in all)"


def counted(n: int, noun: str, plural: str = "") -> str:
    """'1 file', '3 files'; '1 copy', '2 copies' with ``plural``."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def function_form(key: str, spec: str, example: str) -> str:
    """The refusal of a ``package.module:function`` value written another way, with the value
    meant where the last dot stands for the colon (``mydata.samples``: ``mydata:samples``)."""
    head, dot, tail = spec.rpartition(".")
    fix = f"{head}:{tail}" if dot and head and tail and ":" not in spec else example
    return f"{key}={spec}: write it as package.module:function, e.g. {key}={fix}."
