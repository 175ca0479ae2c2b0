"""``data=generator``: ``data.fn=package.module:function`` returns an iterable of (image, label).

The images are materialised once into the same uint8 cache as files, so shuffling, the
validation split, augmentation and resizing to ``data.image_size`` work exactly as for folders.
An element whose shape differs from the signature (declared as ``data.element_shape``, else the
first element's) is skipped with a reason, like a corrupt file; ``null`` in a declared one takes
any size there (``[null,null,3]``: photos of every size, resized to ``data.image_size`` as files
are). The function must end: one that loops for ever is stopped once its elements hold half the
memory available.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from runner.errors import RunnerError
from runner.functions import call_with_kwargs, load_function, yielded
from runner.schemas.data import GeneratorData, LabelMode
from runner.sources.index import FileIndex, require_every_class
from runner.sources.labels import labels_of, multi_labels_of, numbers_of


def as_uint8(image: np.ndarray, value_range: list[float]) -> np.ndarray:
    low, high = value_range
    scaled = (np.asarray(image, dtype=np.float32) - low) * (255.0 / (high - low))
    pixels = np.clip(np.round(scaled), 0, 255).astype(np.uint8)
    return pixels[..., None] if pixels.ndim == 2 else pixels


def fits(found: tuple[int, ...], signature: tuple[int | None, ...]) -> bool:
    """``found`` has the signature's rank and each size it declares (None: any)."""
    return len(found) == len(signature) and all(
        s is None or s == f for f, s in zip(found, signature, strict=True)
    )


def room() -> int:
    """Bytes a generator's elements may hold as they are materialised: half the memory available.
    A generator that never ends (Keras's ``while True``) stops there, not at the OOM killer."""
    import psutil

    return psutil.virtual_memory().available // 2


@dataclass
class GeneratorSource(GeneratorData):
    def index(self) -> FileIndex:
        shape = tuple(self.element_shape) if self.element_shape else None
        names, arrays, values, bad = [], [], [], {}
        several = self.label_mode == LabelMode.multi_hot
        brightest = None  # of the float images: all at most 1 means they are 0-1, not 0-255
        held, most = 0, room()
        fn = load_function(self.fn, "data.fn")
        elements = yielded(lambda: call_with_kwargs(fn, self.fn, "data.fn", self.kwargs), self.fn, "data.fn")
        for i, element in enumerate(elements):
            if held > most:
                raise RunnerError(
                    f"data.fn={self.fn}: {i} elements yielded, {held / 2**30:.1f} GB held (half the "
                    f"memory available), and it has not ended. A Keras-style generator loops for "
                    f"ever: yield one pass over the data (itertools.islice(..., N), or a count in "
                    f"+data.kwargs). If the images are that many, write them to files: data=dir."
                )
            if not isinstance(element, tuple | list) or len(element) != 2:
                raise RunnerError(f"data.fn={self.fn}: element {i} is not an (image, label) pair.")
            if np.asarray(element[0]).dtype.kind == "f" and np.size(element[0]):
                brightest = max(brightest or 0.0, float(np.max(element[0])))
            try:
                image = as_uint8(element[0], self.value_range)
            except (TypeError, ValueError) as err:
                # A file's path: the files are data=glob's to list (and decode, skipping bad ones).
                files = (
                    " For image files, list them with data=glob instead (data.pattern, labels from a "
                    "CSV, their folder or their names)."
                    if isinstance(element[0], str | Path)
                    else ""
                )
                raise RunnerError(
                    f"data.fn={self.fn}: the image of element {i} is not a numeric array ({err}); "
                    f"yield (height, width) or (height, width, channels) arrays.{files}"
                ) from err
            if image.ndim != 3:
                bad[i] = f"shape {np.shape(element[0])} is not (height, width) or (height, width, channels)"
            elif not fits(image.shape, shape := shape or image.shape):
                sizes_only = shape[-1] == image.shape[-1] and len(shape) == image.ndim
                hint = f" (data.element_shape=[null,null,{shape[-1]}] takes any size)" if sizes_only else ""
                bad[i] = f"shape {image.shape} differs from the element signature {shape}{hint}"
            if several:  # the image's classes: a list of names or numbers (none: an empty list)
                if np.ndim(element[1]) > 1:
                    raise RunnerError(
                        f"data.fn={self.fn}: the label of element {i} has shape {np.shape(element[1])}: "
                        f"with data.label_mode=multi_hot, yield a list of the image's classes."
                    )
                values.append(element[1] if np.ndim(element[1]) else [element[1]])
            elif np.ndim(element[1]) != 0:
                wanted = (
                    "one number: data.label_mode=regression predicts one per image"
                    if self.label_mode == LabelMode.regression
                    else "one class: yield a class name or number (for a one-hot label, its argmax; "
                    "data.label_mode=categorical makes them one-hot for the model; several "
                    "classes per image: data.label_mode=multi_hot and a list of them)"
                )
                raise RunnerError(
                    f"data.fn={self.fn}: the label of element {i} is "
                    f"{np.asarray(element[1]).tolist()}, not {wanted}."
                )
            else:
                values.append(str(np.asarray(element[1]).item()))
            names.append(f"{self.fn}[{i}]")
            arrays.append(image)
            held += image.nbytes
        if not arrays:
            raise RunnerError(f"data.fn={self.fn}: yielded no elements.")
        if brightest is not None and brightest <= 1 < self.value_range[1]:
            raise RunnerError(
                f"data.fn={self.fn}: yields float images whose values are all at most {brightest:.3g}, "
                f"and data.value_range={list(self.value_range)} reads them as 0-255: they would train "
                f"as black images. Add data.value_range=[0,1]."
            )
        columns = None
        if several:
            columns, values = self.classes_each(values)
        found = {v for value in values for v in value} if several else set(values)
        by_name = sorted(found, key=lambda v: (len(v), v))  # '2' before '10'
        class_names = columns or self.class_names or by_name
        multi = numbers = None
        bad_labels: dict[int, str] = {}
        if self.label_mode == LabelMode.regression:  # a number per image: no classes
            class_names, (numbers, labels, bad_labels) = [], numbers_of(values)
        elif several:
            class_names, labels, multi = multi_labels_of(values, class_names)
        else:
            class_names, labels, bad_labels = labels_of(values, class_names)
        index = FileIndex(names, labels, class_names, arrays=arrays, multi=multi, numbers=numbers)
        return require_every_class(index.without({**bad_labels, **bad}))

    def classes_each(self, labels: list) -> tuple[list[str] | None, list[list[str]]]:
        """A multi_hot generator's labels as each image's list of classes: its labels, or, where
        every label is a 0/1 row of one length with some value twice (which no list of classes
        has: Keras's multi-label examples yield ``[0, 1, 1]``), the classes of its 1s (their
        ``data.class_names``, else their column numbers), with the columns as the classes (those
        no image has too). Read as lists, such rows were two classes, '0' and '1', for every image."""
        rows = zero_one_rows(labels)
        if rows is None:
            return None, [[str(np.asarray(name).item()) for name in label] for label in labels]
        names = self.class_names or [str(k) for k in range(rows.shape[1])]
        if len(names) != rows.shape[1]:
            raise RunnerError(
                f"data.fn={self.fn}: yields 0/1 label rows of {rows.shape[1]} columns, and "
                f"data.class_names names {len(names)} classes: name one per column, in order."
            )
        return names, [[names[k] for k in np.flatnonzero(row)] for row in rows]


def zero_one_rows(labels: list) -> np.ndarray | None:
    """``labels`` as an (images, classes) array when each is a 0/1 row of one length (2 at least)
    and some row holds a value twice; None otherwise (lists of classes)."""
    if any(np.ndim(label) != 1 for label in labels) or len({len(label) for label in labels}) != 1:
        return None
    rows = np.asarray(labels)
    if rows.shape[1] < 2 or rows.dtype.kind not in "biuf" or not np.isin(rows, (0, 1)).all():
        return None
    return rows if any(len(set(row.tolist())) < len(row) for row in rows) else None
