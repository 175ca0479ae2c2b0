"""The files of types ``data.extensions`` leaves out, said with what to do about them. A folder of
scans (``.tif``) or of an iPhone's photos (``.heic``) otherwise reads as "no images", with no word
of what it does hold: Pillow, which decodes every image that is not a JPEG, reads the one and not
the other."""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from runner.schemas.data import IMAGE_EXTENSIONS

# Types Pillow knows by name but does not decode without another program (Ghostscript, Windows) or
# a handler of its own (its stub plugins): not offered.
NOT_DECODED = {"bufr", "grib", "h5", "hdf", "mpeg", "mpg", "eps", "ps", "wmf", "emf"}
# Image types people keep that Pillow cannot read, as a folder of them would be taken for (HEIC
# and HEIF: not where pillow-heif is installed).
UNREADABLE = {
    **dict.fromkeys(["heic", "heif"], "an iPhone's photos"),
    **dict.fromkeys(["cr2", "cr3", "nef", "arw", "dng", "orf", "rw2", "raf"], "a camera's raw files"),
    "svg": "drawings",
}
# What reads one of those after all.
READ_WITH = dict.fromkeys(["heic", "heif"], "pip install 'runner[heic]'")


def of_run(data: dict) -> list[str]:
    """The file types a past run's stored ``data`` config trained on, which its model's folders
    are read for: its ``data.extensions``; for ``data=glob``, which has none, the usual ones and
    the one its pattern names (``scans/*/*.tif``)."""
    if data.get("extensions"):
        return list(data["extensions"])
    named = Path(data.get("pattern") or "").suffix.lstrip(".")
    return list(dict.fromkeys([*IMAGE_EXTENSIONS, *([named.lower()] if named.isalnum() else [])]))


def open_heif() -> None:
    """Let Pillow open HEIC and HEIF files (an iPhone's photos), where pillow-heif is installed
    (``pip install 'runner[heic]'``): called where Pillow opens files, the decoder and the check."""
    try:
        from pillow_heif import register_heif_opener
    except ImportError:
        return
    register_heif_opener()


@functools.cache
def readable() -> frozenset[str]:
    """The extensions (``tif``) of the types Pillow decodes: asked once (a skipped file's reason
    asks it, and a folder may hold thousands)."""
    from PIL import Image

    open_heif()
    Image.init()
    opened = {name.lstrip(".") for name, kind in Image.registered_extensions().items() if kind in Image.OPEN}
    return frozenset(opened - NOT_DECODED)


def other_types(paths: Iterable[str], extensions: Iterable[str], run: bool = False) -> str:
    """' There are 10 .tif files of a type Pillow reads: take them with ...' for the files ``paths``
    whose type is none of ``extensions``, or ''. The fix is ``data.extensions`` with those types
    added, or, for a past run's model (``run``), that it read only its own."""
    wanted = [extension.lower().lstrip(".") for extension in extensions]
    counts = Counter(Path(path).suffix.lower().lstrip(".") for path in paths)
    decoded = readable()
    takes = [kind for kind, _ in counts.most_common() if kind in decoded and kind not in wanted]
    cannot = [
        kind for kind, _ in counts.most_common() if kind in UNREADABLE and kind not in {*decoded, *wanted}
    ]
    said = ""
    if takes:
        files = f"{listed(takes, counts)} of {'a type' if len(takes) == 1 else 'types'}"
        if run:
            said += f" {files} the run did not train on."
        else:
            more = ",".join(dict.fromkeys([*wanted, *takes]))
            it = them(sum(counts[kind] for kind in takes))
            said += f" {files} Pillow reads: take {it} with data.extensions=[{more}]."
    for kind in cannot:
        said += f" {listed([kind], counts)} ({UNREADABLE[kind]}), {cannot_read(kind, counts[kind])}."
    return said


def unreadable(path: str) -> str | None:
    """Why a file Pillow cannot identify is not read, where its type says it (an iPhone's .heic)."""
    kind = Path(path).suffix.lower().lstrip(".")
    if kind not in UNREADABLE or kind in readable():
        return None
    read = f"; {READ_WITH[kind]} reads it" if kind in READ_WITH else ""
    # The skipped files' summary counts reasons by their words before the first ':'.
    return (
        f"of a type Pillow cannot read (.{kind}, {UNREADABLE[kind]}{read}): convert it to JPEG or PNG first"
    )


def cannot_read(kind: str, count: int) -> str:
    it = them(count)
    read = f", or {READ_WITH[kind]} to read {it}" if kind in READ_WITH else ""
    return f"of a type Pillow cannot read: convert {it} to JPEG or PNG first{read}"


def listed(kinds: list[str], counts: Counter) -> str:
    """'There are 10 .tif and 5 .tiff files', 'There is 1 .heic file'."""
    numbers = [f"{counts[kind]:,} .{kind}" for kind in kinds]
    together = ", ".join(numbers[:-1]) + " and " + numbers[-1] if len(numbers) > 1 else numbers[0]
    many = sum(counts[kind] for kind in kinds) > 1
    return f"There {'are' if many else 'is'} {together} file{'s' * many}"


def them(count: int) -> str:
    return "them" if count > 1 else "it"
