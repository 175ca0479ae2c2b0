"""runner.config_errors: what Hydra and OmegaConf refuse as a config is composed, as
``errors.explain``'s one line."""

from __future__ import annotations

import pytest

from runner.errors import explain


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        (["trainer.epochs=1.5"], "trainer.epochs=1.5: must be a whole number, e.g. trainer.epochs=10."),
        (["model.dropout=abc"], "model.dropout=abc: must be a number, e.g. model.dropout=0.25."),
        (
            ["trainer.deterministic=maybe"],
            "trainer.deterministic=maybe: must be true or false, e.g. trainer.deterministic=true.",
        ),
        # The example is the value the config had: a preset's, where it sets one.
        (
            ["experiment=transfer", "trainer.lr_schedule=null"],
            "trainer.lr_schedule=null: cannot be null, e.g. trainer.lr_schedule=cosine (one of "
            "constant, cosine, plateau).",
        ),
        (["data.max_per_class=abc"], "data.max_per_class=abc: must be a whole number."),  # null by default
        (["data.image_size=[a,224]"], "data.image_size[0]=a: must be a whole number."),
        (
            ["data.color_mode=RGB"],
            "data.color_mode=RGB: Invalid value 'RGB', expected one of [grayscale, rgb, rgba]. "
            "Did you mean 'rgb'?",
        ),
    ],
)
def test_a_value_of_the_wrong_type_says_what_its_key_takes(overrides, says):
    from conftest import compose

    with pytest.raises(Exception) as refused:  # noqa: PT011 - whichever Hydra raises, explained
        compose(*overrides)
    assert explain(refused.value) == says


# What Hydra refuses as it composes, in this process; tests/test_main.py runs others of each
# kind as users do (python -m runner ...), through the same explain().
@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["data.color_mode=rbg"], ["data.color_mode=rbg", "Did you mean 'rgb'?"]),
        (["experiment=nope"], ["experiment=nope", "no such option"]),
        (["model=resnet50"], ["model=resnet50: no such option", "is model=application model.name=ITS_CLASS"]),
        (["aug=standard", "~aug.ops.zooom"], ["~aug.ops.zooom", "nothing to delete", "Did you mean 'zoom'?"]),
        (["trainer.lr_schedule=cosin"], ["trainer.lr_schedule=cosin", "Did you mean 'cosine'?"]),
        # A choice by another tool's name for it (Lightning's precision="bf16-mixed").
        (["trainer.precision=fp16"], ["trainer.precision=fp16", "Did you mean 'mixed_float16'?"]),
        (["trainer.precision=bf16-mixed"], ["Did you mean 'mixed_bfloat16'?"]),
        (["data.cache=ram"], ["data.cache=ram", "Did you mean 'memory'?"]),
        (["aug=flip", "aug.placement=gpu"], ["aug.placement=gpu", "Did you mean 'model'?"]),
        (
            ["data=glob", "data.label_regex=["],
            ["data.label_regex=[: Hydra cannot read", "'data.label_regex=\"[\"'"],
        ),
        (["data.image_size=224"], ["data.image_size=224: needs [height, width]", "=[224,224]"]),
        # A list written as a sweep or a tuple: the override meant.
        (
            ["data.image_size=224,224"],
            [
                "data.image_size=224,224: a comma list sweeps",
                "brackets: data.image_size=[224,224];",
                "add -m",
            ],
        ),
        (
            ["data.image_size=(224,224)"],
            ["(224,224): a list is written in brackets: data.image_size=[224,224]."],
        ),
        (["data=digits", "data.extensions=jpg"], ["data.extensions=jpg: needs a list", "=[jpg,...]"]),
        # A key of another option of its group: that option, not the same name in another group.
        (
            ["model.path=x.keras"],
            [
                "model.path: runner.models.small_cnn has no parameter 'path'. It is a key of model=file: "
                "choose it, e.g. model=file model.path=... It takes: filters,"
            ],
        ),
        (["data=dir", "data.path=x", "data.pattern=*.jpg"], ["It is a key of data=glob: choose it"]),
        (
            ["data=glob", "data.pattern=*.jpg", "data.path=x"],
            ["It is a key of data=dir and data=digits: choose one, e.g. data=dir data.path=..."],
        ),
    ],
)
def test_what_hydra_refuses_as_it_composes_is_one_line(args, expected):
    from conftest import compose

    with pytest.raises(Exception) as refused:  # noqa: PT011 - whichever Hydra raises, explained
        compose(*args)
    line = explain(refused.value, args)
    assert all(fragment in line for fragment in expected) and "\n" not in line, line


@pytest.mark.parametrize(
    ("args", "said", "meant"),
    [
        # A folder's name with spaces and parentheses: Hydra's grammar reads ( and ) as its own.
        (
            ["data=dir", "data.path=My Photos (2024)/pets"],
            "data.path=My Photos (2024)/pets: Hydra cannot read",
            "My Photos (2024)/pets",
        ),
        (
            ["data=glob", "data.label_regex=^(\\w+)_"],
            "data.label_regex=^(\\w+)_: Hydra cannot read",
            "^(\\w+)_",
        ),
        # A list: its items quoted, not the list (which would be read as one string).
        (
            ["data=dir", "data.class_names=[pug (small),cat]"],
            "data.class_names=[pug (small),cat]: Hydra cannot read",
            ["pug (small)", "cat"],
        ),
        # Unquoted in the shell, which split it at the spaces: Hydra is given 'Great' alone...
        (
            ["-m", "data=dir", "data.path=My", "Great", "Photos/pets", "trainer.epochs=1"],
            "'Great' is no override (KEY=VALUE): the shell split it from 'data.path=My' at a space.",
            "My Great Photos/pets",
        ),
        # ... or a list cut at its first space, which Hydra stops at.
        (
            ["data=dir", "data.class_names=[golden", "retriever,pug]"],
            "data.class_names=[golden: the shell split this override at a space.",
            ["golden retriever", "pug"],
        ),
    ],
)
def test_a_value_hydra_cannot_read_gets_the_override_quoted_as_it_reads_it(args, said, meant):
    import shlex

    from conftest import compose
    from omegaconf import OmegaConf

    with pytest.raises(Exception) as refused:  # noqa: PT011 - Hydra's parse error, explained
        compose(*(arg for arg in args if arg != "-m"))
    line = explain(refused.value, args)
    assert line.startswith(said), line
    # The override it gives, as the shell passes it on, is read whole.
    [fix] = shlex.split(line.rsplit(": ", 1)[1])
    key = fix.partition("=")[0]
    others = [arg for arg in args if "=" in arg and not arg.startswith(f"{key}=")]
    read = OmegaConf.select(compose(*others, fix), key)
    assert (OmegaConf.to_container(read) if OmegaConf.is_list(read) else read) == meant


def test_an_option_or_a_quoted_value_is_not_taken_for_a_piece_of_a_split_value():
    from conftest import compose

    for args in (["data=dir", "data.path=x", " --cfg", "job"], ["data=dir", 'data.path="My"', "Photos"]):
        with pytest.raises(Exception) as refused:  # noqa: PT011 - Hydra's parse error, explained
            compose(*args)
        assert explain(refused.value, args).startswith("cannot parse the override"), args


def test_every_key_an_option_needs_is_asked_for_with_what_it_is_and_an_example():
    import dataclasses

    from conftest import compose
    from omegaconf import MISSING

    from runner.config import SCHEMAS
    from runner.config_errors import REQUIRED

    needed = {
        f"{name.partition('_')[0]}.{field.name}"
        for name, schema in SCHEMAS.items()
        for field in dataclasses.fields(schema)
        if field.default is MISSING
    }
    assert needed == set(REQUIRED)  # a new required key gets its words there
    with pytest.raises(Exception) as refused:  # noqa: PT011 - OmegaConf's, explained
        _ = compose("data=dir").data.path  # as the run reads it
    assert explain(refused.value, ["data=dir"]) == (
        "data.path: needs a value, the folder with a subfolder of images per class; set it on the "
        "command line, e.g. data.path=~/pets"
    )
