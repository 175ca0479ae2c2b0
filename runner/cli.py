"""What the commands' argument parsers share: the run they take (and predict's and evaluate's
options for its model), counts of at least 1, a summary for ``--help``, a command's own options
kept apart from the Hydra overrides that follow them, and an option neither has refused in one line."""

from __future__ import annotations

import argparse
import os
import sys

from runner.errors import RunnerError
from runner.schemas.tracking import TrackingConfig
from runner.scores import THRESHOLD, TUNED
from runner.words import SPLIT, nearest, rejoined, shell_join

# The RUN that runner.predict, evaluate and export take (``trained.run_of``).
RUN_HELP = (
    "an MLflow run's id (mlflow ui, or the runner's log; its first 6 characters or more will do) or "
    "name (a sweep's run: its best job's run), or a registered model version: models:/NAME/VERSION "
    "or models:/NAME@ALIAS"
)


def positive_int(text: str) -> int:
    """An argparse type for counts and sizes: what argparse's own ``int`` would let through as 0."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number of at least 1")
    return int(text)


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """What ``runner.predict`` and ``runner.evaluate`` both take: the run's store, which of its
    models, and how it scores the images."""
    parser.add_argument("--tracking-uri", default=TrackingConfig.uri, help="the run's MLflow store")
    # Images decoded at a time; the model takes them 32 at a time (``predict.scores_of``).
    parser.add_argument(
        "--batch", type=positive_int, default=256, help="images decoded at a time (32 a model step)"
    )
    parser.add_argument(
        "--best", action="store_true", help="the best trainer.monitor epoch's model, not the final one"
    )
    parser.add_argument(
        "--tuned",
        action="store_true",
        help=f"a multi-label run: each class a yes at the threshold it tuned on its validation images "
        f"({TUNED}), not {THRESHOLD}",
    )
    parser.add_argument(
        "--tta",
        action="store_true",
        help="also predict each image mirrored as the run's training images were (left to right, "
        "upside down, or both: its RandomFlip's mode), and average them (test-time augmentation; "
        "for a run that trained on mirrored images, e.g. aug=flip)",
    )
    parser.add_argument(
        "--calibrated",
        action="store_true",
        help="probabilities at the temperature the run fitted on its validation images "
        "(final_val_temperature), so that of the images said 0.9, nine in ten are right; the "
        "predicted classes stay the same",
    )


def png_file(text: str) -> str:
    """An argparse type for ``--out`` of a picture: ``lr`` is ``lr.png`` (as matplotlib would save
    it, though the command then named ``lr``); another extension, or a folder that is not there,
    refused before the work (a range test's minutes), not by Pillow or matplotlib at its end."""
    if os.path.isdir(text):
        example = os.path.join(text, "out.png")
        raise argparse.ArgumentTypeError(f"'{text}' is a folder: give a file in it, e.g. {example}")
    folder = os.path.dirname(text)
    if folder and not os.path.isdir(folder):
        make = shell_join(["mkdir", "-p", folder])
        raise argparse.ArgumentTypeError(f"'{text}': there is no folder {folder}; make it ({make}) first")
    suffix = os.path.splitext(text)[1]
    if not suffix:
        return f"{text}.png"
    if suffix.lower() != ".png":
        raise argparse.ArgumentTypeError(f"'{text}': writes a PNG; give a name ending in .png")
    return text


def described(doc: str) -> str:
    """A command's ``--help`` summary: its module docstring's first paragraph, less the usage it
    opens with (argparse prints its own), which split at its first line cut it short, and less
    reStructuredText's double backquotes."""
    summary = " ".join(doc.split("\n\n")[0].split()).split("``: ", 1)[-1].replace("``", "")
    return summary[:1].upper() + summary[1:]


def options_then_overrides(
    parser: argparse.ArgumentParser, argv: list[str] | None
) -> tuple[argparse.Namespace, list[str]]:
    """A command's own options, and the rest as Hydra overrides. An option it does not have
    (``--k 0``) is the parser's error naming the closest of its options, not Hydra's "cannot parse
    the override '--k'"."""
    args, overrides = parser.parse_known_args(argv)
    refuse_unknown_flags(parser, overrides)
    return args, overrides


def parsed(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """``parser.parse_args(argv)``, with an option the command does not have (``--tpo 3``) refused
    naming the closest of its options, not argparse's "unrecognized arguments: --tpo 3"."""
    args, extra = parser.parse_known_args(argv)
    refuse_unknown_flags(parser, extra, overrides=False)
    if extra:
        words = sys.argv[1:] if argv is None else argv
        split = (rejoined(words, at) for at in range(len(words) - 1))
        whole = next(
            (f" '{path}' is there: {SPLIT}" for path in split if path and extra[0] in path.split()), ""
        )
        parser.error(f"unrecognized arguments: {' '.join(extra)}.{whole}")
    return args


def refuse_unknown_flags(parser: argparse.ArgumentParser, extra: list[str], overrides: bool = True) -> None:
    """The first of ``extra`` that is an option (``--tpo``), refused: ``unknown_option``."""
    if flags := [arg for arg in extra if arg.startswith("-")]:
        options = list(parser._option_string_actions)  # no public list
        parser.error(unknown_option(flags[0], options, overrides))


def unknown_option(arg: str, options: list[str], overrides: bool = True) -> str:
    """The refusal of ``arg``, an option not among ``options``: the nearest, and the long ones (and
    that the rest are Hydra's ``overrides``, for a command that takes them)."""
    given = arg.partition("=")[0]
    options = list(dict.fromkeys(o for o in options if o.startswith("--")))
    # Compared without their dashes, which every option shares: '--bogus' is not near '--run'.
    near = nearest(given.lstrip("-"), [o[2:] for o in options])
    meant = f" Did you mean '--{near}'?" if near else ""
    rest = "; the other arguments are overrides (KEY=VALUE)" if overrides else ""
    return f"unrecognized option {given}.{meant} Its options: {', '.join(options)}{rest}."


# What python -m runner --resume is refused with: another command does it.
RESUMING = (
    "the training command starts a new run. To continue an unfinished one (failed or interrupted) "
    "from its last finished epoch: python -m runner.rerun RUN --resume (RUN: its id or name); to "
    "run one again: python -m runner.rerun RUN."
)
# Hydra's modes, of which it takes one (its ValueError, a traceback, for two).
MODES = {"-r": "--run", "-m": "--multirun", "-c": "--cfg", "-i": "--info", "-sc": "--shell-completion"}


def refuse_bad_options(args: list[str], own: list[str] | None = None) -> None:
    """An option that neither Hydra nor the command (``own``: runner.rerun's) has, or starts, is
    one line naming the closest, not Hydra's usage and "unrecognized arguments"; so are two of
    Hydra's modes (-m with --cfg job)."""
    from hydra._internal.utils import get_args_parser  # the options Hydra's own parser takes

    options = [*(own or []), *get_args_parser()._option_string_actions]
    for arg in args:
        given = arg.partition("=")[0]
        started = [o for o in options if o.startswith(given) and given.startswith("--")]  # --cf job
        if arg.startswith("-") and given not in options and len(started) != 1:
            if own is None and given.lstrip("-").startswith(("resum", "rerun", "continue")):
                raise RunnerError(f"{given}: {RESUMING}")
            raise RunnerError(unknown_option(arg, options))
    modes = list(dict.fromkeys(MODES.get(a, a) for a in args if MODES.get(a, a) in MODES.values()))
    if len(modes) > 1:
        raise RunnerError(
            f"{' and '.join(modes)}: Hydra takes one of {', '.join(MODES.values())} at a time. For the "
            f"config a sweep's job gets, drop -m and give that job's values: --cfg job prints it."
        )
