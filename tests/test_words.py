"""runner.words: the nearest name or path, counts, commands to paste."""

from __future__ import annotations

import shlex

from runner.words import class_names_override, closest, closest_path, counted, shell_join, some


def test_the_nearest_name_is_found_in_any_case_and_nothing_far_is_offered():
    assert closest("flpi", ["flip", "none", "standard"]) == " Did you mean 'flip'?"
    assert closest("rgb", ["RGB", "grayscale"]) == " Did you mean 'RGB'?"
    assert closest("zebra", ["flip", "none"]) == ""


def test_a_long_list_is_cut_short_with_its_length():
    names = [f"n{i}" for i in range(20)]
    assert some(names[:3]) == "n0, n1, n2"
    assert some(names, most=2) == "n0, n1, ... (20 in all)"


def test_commands_to_paste_quote_hydra_quoted_values_readably_and_round_trip():
    args = ["python", "-m", "runner", "data.pattern='photos/**/*.jpg'", "data.image_size=[8,8]"]
    assert shell_join(args) == "python -m runner \"data.pattern='photos/**/*.jpg'\" 'data.image_size=[8,8]'"
    for tricky in ("+data.kwargs.path='$HOME/x'", "a='b\"c'", "a='wow!'", "a='back\\slash'", 'a="x y"'):
        assert shlex.split(shell_join([tricky])) == [tricky]  # what a shell hands back


def test_a_class_names_override_reads_back_through_a_shell_and_hydra_as_the_names_it_was_given():
    from runner.config import compose

    assert class_names_override(["cat", "dog_2", "a-b.c"]) == "data.class_names=[cat,dog_2,a-b.c]"
    assert class_names_override([f"n{i}" for i in range(13)]) == "data.class_names=[...]"
    for names in (["Bird Species", "cat"], ["cät", "it's", "null", "9lives", "x,y", "[z]", "a=b"]):
        (override,) = shlex.split(class_names_override(names))  # one word, as a shell hands it over
        assert list(compose(["data=dir", "data.path=/nowhere", override]).data.class_names) == names


def test_counts_are_said_in_the_singular_for_one():
    assert [counted(n, "file") for n in (0, 1, 2)] == ["0 files", "1 file", "2 files"]
    assert [counted(n, "extra copy", "extra copies") for n in (1, 3)] == ["1 extra copy", "3 extra copies"]


def test_a_missing_path_gets_the_one_its_first_missing_part_may_mean(tmp_path):
    (tmp_path / "data" / "pets" / "cat").mkdir(parents=True)
    (tmp_path / "data" / "labels.csv").write_text("path,label\n")
    assert (
        closest_path(tmp_path / "data" / "pest" / "cat") == f" Did you mean '{tmp_path / 'data/pets/cat'}'?"
    )
    assert closest_path(tmp_path / "Data" / "pets") == f" Did you mean '{tmp_path / 'data/pets'}'?"  # case
    assert (
        closest_path(tmp_path / "data" / "lables.csv") == f" Did you mean '{tmp_path / 'data/labels.csv'}'?"
    )
    assert closest_path(tmp_path / "data" / "pest" / "dog") == ""  # what it would mean does not exist either
    assert closest_path(tmp_path / "data" / "zebras") == ""  # nothing near
    assert closest_path(tmp_path / "data" / "pets") == ""  # there
    assert (
        closest_path(tmp_path / "data" / "labels.cvs") == f" Did you mean '{tmp_path / 'data/labels.csv'}'?"
    )
    (tmp_path / "rgb.keras").write_bytes(b"")
    assert closest_path(tmp_path / "missing.keras") == ""  # '.keras' alike, the names not


def test_a_function_written_with_a_dot_for_the_colon_gets_the_value_meant():
    from runner.words import function_form

    meant = function_form("model.fn", "pkg.models.build", "mymodels:build")
    assert (
        meant
        == "model.fn=pkg.models.build: write it as package.module:function, e.g. model.fn=pkg.models:build."
    )
    for other in ("build", "mymodels:", ":build", "a.b:c."):  # no dot to read as the colon: the example
        assert function_form("model.fn", other, "mymodels:build").endswith("e.g. model.fn=mymodels:build.")
