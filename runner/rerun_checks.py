"""What ``runner.rerun`` says or refuses before it runs a past run again: other code, another kind
of CPU, keys added since, files changed since (notes on stderr: its metrics may differ; the files
are noted by ``train``, once it has indexed them), a function the stored config names (imported
only when the command names it too), relative paths read from another folder.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner.errors import RunnerError
from runner.stored import added_keys, made_by

if TYPE_CHECKING:
    from runner.sources import FileIndex

# Keys whose relative values are read against the working directory.
PATH_KEYS = (
    "data.path",
    "data.val_path",
    "data.test_path",
    "data.pattern",
    "data.labels_csv",
    "data.root",
    "model.path",
)


def keys_given(args: list[str]) -> set[str]:
    """The keys the command's overrides set (``KEY=VALUE``, ``+KEY=VALUE``)."""
    return {key for key, sep, _ in (arg.lstrip("+").partition("=") for arg in args) if sep}


def this(resume: bool) -> str:
    """What a note calls the run the command makes."""
    return "the resumed run" if resume else "this rerun"


def note_other_code(run: Any, resume: bool = False) -> None:
    """A rerun on other code than the run's may log other metrics (an augmentation drawn another
    way, a bug fixed since): said on stderr, with how to get the run's code back."""
    from runner.provenance import provenance

    then, now = run.data.tags.get("runner.git_commit"), provenance()[0].get("runner.git_commit")
    if then and now and then != now:
        print(
            f"runner: note: run {run.info.run_id} was made by {made_by(run)}; this checkout is at "
            f"commit {now}, so {this(resume)}'s code, and so its metrics, may differ.",
            file=sys.stderr,
        )


def note_other_cpu(run: Any, resume: bool = False) -> None:
    """A rerun on another kind of CPU than the run's runs other kernels (oneDNN's or not, AVX-512
    or not), which sum in other orders: the same config and seed log metrics that differ in their
    last digits. Said on stderr, so that a difference there is not taken for a bug."""
    from runner.provenance import cpu

    then, now = run.data.tags.get("runner.cpu"), cpu()
    if then and then != now:
        print(
            f"runner: note: run {run.info.run_id} was made on another kind of CPU ({then}) than this "
            f"one ({now}): TensorFlow runs other kernels here, so {this(resume)}'s metrics may differ in "
            f"their last digits.",
            file=sys.stderr,
        )


def note_added_keys(run: Any, stored: dict, args: list[str], resume: bool) -> None:
    """Keys added to the runner since the run was made: its config has no value for them, so the
    rerun (or the resumed run) gives them their defaults, said on stderr with the override that
    changes each."""
    given = keys_given(args)
    if added := {key: value for key, value in added_keys(stored).items() if key not in given}:
        print(
            f"runner: note: run {run.info.run_id} was made before this runner had "
            f"{', '.join(added)}; {this(resume)} gives "
            f"{'it its default' if len(added) == 1 else 'them their defaults'}: "
            f"{' '.join(f'{key}={value}' for key, value in added.items())} (override to change).",
            file=sys.stderr,
        )


def note_other_files(store: Any, run_id: str, index: FileIndex) -> None:
    """A rerun reads the files as they are now: one added, removed, relabelled or rewritten since
    the run trained on them changes what it learns, so it is said on stderr, as other code is (a
    resume, which must continue on the same files, is refused instead: ``rerun.prepare_resume``)."""
    from runner.record import data_changes

    if changed := data_changes(store, run_id, index):
        print(
            f"runner: note: run {run_id} trained on other files than this rerun reads: "
            f"{'; '.join(changed)}. This rerun trains on the files as they are now, so its metrics "
            f"may differ.",
            file=sys.stderr,
        )


def require_named_code(stored: dict, args: list[str], run_id: str) -> None:
    """``data.fn`` (``data=generator``) and ``model.fn`` (``model=function``) are code that the
    rerun would import and call: a stored config is data, so a rerun calls a stored function only
    when its command names it again."""
    for group in ("data", "model"):
        fn = (stored.get(group) or {}).get("fn")
        if fn and f"{group}.fn" not in keys_given(args):
            raise RunnerError(
                f"run {run_id}'s {group}.fn={fn}: a function its stored config names, which a rerun "
                f"imports and calls only when you name it too. If you trust that store and that code, "
                f"add {group}.fn={fn} to the command."
            )


def require_same_folder(run: Any, stored: dict, args: list[str], resume: bool) -> None:
    """Relative paths in a stored config are read against the working directory, so a rerun from
    another folder would train on other files, or find none. Refused while the run's own folder is
    on this machine; a run from another machine (a shared tracking server) reads them here."""
    ran_in = run.data.tags.get("runner.cwd")
    if ran_in is None or not Path(ran_in).is_dir() or Path(ran_in).samefile(Path.cwd()):
        return
    from runner.tracking import flatten

    given, values = keys_given(args), flatten(stored)
    relative = {
        key: value
        for key in PATH_KEYS
        if isinstance(value := values.get(key), str)
        and key not in given
        and not os.path.isabs(os.path.expanduser(value))
    }
    if not relative:
        return
    run_id, read = run.info.run_id, ", ".join(f"{key}={value}" for key, value in relative.items())
    full = " ".join(f"{key}={os.path.join(ran_in, value)}" for key, value in relative.items())
    instead = "" if resume else f", or give the full paths: python -m runner.rerun {run_id} {full}"
    raise RunnerError(
        f"run {run_id} ran in {ran_in} and reads {read} relative to it; from here it would read other "
        f"files, or none. Rerun it from there (cd {ran_in}){instead}"
    )
