"""The split: the source's own, then stratified and seeded, or k folds; no TensorFlow."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from runner.errors import RunnerError
from runner.schemas.data import DataConfig
from runner.sources import FileIndex
from runner.split import fold_split, imbalance, log_split, split_of, stratified_split, warn_uncovered


def test_split_is_stratified_and_seeded():
    labels = np.array([0] * 50 + [1] * 30 + [2] * 20)
    train, val = stratified_split(labels, 0.2, seed=1)
    assert len(val) == 20 and len(set(train) | set(val)) == 100 and not set(train) & set(val)
    assert np.bincount(labels[val]).tolist() == [10, 6, 4]
    again, _ = stratified_split(labels, 0.2, seed=1)
    other, _ = stratified_split(labels, 0.2, seed=2)
    assert np.array_equal(train, again) and not np.array_equal(train, other)


def test_split_too_small_is_a_clear_error():
    with pytest.raises(RunnerError, match="data.validation_split=0.2: cannot split 4 images by class"):
        stratified_split(np.array([0, 1, 2, 3]), 0.2, seed=0)
    # Every class of one image: leaving them out would leave nothing, so that is not offered.
    index = FileIndex([f"/nowhere/{i}.png" for i in range(2)], np.array([0, 1]), ["cat", "dog"], [])
    with pytest.raises(RunnerError) as refused:
        split_of(DataConfig(), index, seed=0)
    assert "Add images of them, or validate on none: data.validation_split=0." in str(refused.value)


def test_a_class_of_one_image_is_named_with_the_ways_out():
    # scikit-learn's own message: "Classes with too few members are: [3]".
    labels = np.array([0] * 40 + [1] * 35 + [2] * 6 + [3])
    index = FileIndex(
        [f"/nowhere/{i}.png" for i in range(82)], labels, ["cat", "dog", "Bird Species", "fish"], []
    )
    with pytest.raises(RunnerError) as refused:
        split_of(DataConfig(), index, seed=0)
    assert str(refused.value) == (
        "data.validation_split=0.2: cannot split 82 images by class: 'fish' has one image, and a "
        "stratified split needs two of each class (one to train on, one to validate). Add images of "
        "it, leave it out with \"data.class_names=[cat,dog,'Bird Species']\", or validate on none: "
        "data.validation_split=0."
    )


@pytest.mark.parametrize("fraction", [0.01, 0.99])
def test_a_fraction_too_small_or_large_for_every_class_names_the_fractions_that_work(fraction):
    labels = np.array([0] * 40 + [1] * 35 + [2] * 9)
    validated = int(np.ceil(fraction * 84))
    with pytest.raises(RunnerError) as refused:
        stratified_split(labels, fraction, seed=0)
    assert str(refused.value) == (
        f"data.validation_split={fraction}: cannot split 84 images by class: it validates on {validated} "
        f"and trains on {84 - validated}, and a stratified split needs as many images in each as there "
        f"are classes (3). Set data.validation_split between 0.04 and 0.96."
    )
    for works in (0.04, 0.96):  # the bounds it names are splits scikit-learn makes
        train, val = stratified_split(labels, works, seed=0)
        assert len(val) == int(np.ceil(works * 84)) and len(train) == 84 - len(val)
    # 11 classes in 25 images: 0.56 of 25 is 14.000000000000002 in floats, 15 to validate, 10 to train.
    many = np.array([*range(11), *range(11), 0, 1, 2])
    with pytest.raises(RunnerError, match=r"Set data.validation_split between 0.44 and 0.55\.$"):
        stratified_split(many, 0.1, seed=0)
    for works in (0.44, 0.55):
        train, val = stratified_split(many, works, seed=0)
        assert len(set(many[train])) == len(set(many[val])) == 11


@pytest.mark.parametrize(
    ("fraction", "meant"), [(-0.1, 0.2), (1.0, 0.2), (1.5, 0.2), (20.0, 0.2), (15.0, 0.15), (15, 0.15)]
)
def test_a_fraction_outside_0_to_1_is_refused_by_the_config(fraction, meant):
    # -0.1 was read as 0 (validate on none), 1.5 refused only once the files were indexed; a
    # percentage gets its share, given as a float (the config's) or an int (a Python caller's).
    with pytest.raises(RunnerError) as refused:
        DataConfig(validation_split=fraction)
    assert str(refused.value) == (
        f"data.validation_split={fraction}: must be a share from 0 (validate on none) to below 1, "
        f"e.g. data.validation_split={meant}."
    )


def test_folds_validate_each_image_once_stratified_and_seeded():
    labels = np.array([0] * 50 + [1] * 30 + [2] * 20)
    vals = [fold_split(labels, 5, fold, seed=1)[1] for fold in range(5)]
    assert sorted(np.concatenate(vals).tolist()) == list(range(100))  # each image in one fold's val
    assert all(np.bincount(labels[val]).tolist() == [10, 6, 4] for val in vals)
    train, val = fold_split(labels, 5, 3, seed=1)
    assert not set(train) & set(val) and len(train) + len(val) == 100
    assert np.array_equal(fold_split(labels, 5, 3, seed=1)[1], val)
    assert not np.array_equal(fold_split(labels, 5, 3, seed=2)[1], val)


def test_the_sources_own_split_is_kept_and_the_rest_split_by_fraction():
    labels = np.array([0, 1] * 10)
    placed = np.array(["test", "val"] + [""] * 18, dtype=object)
    index = FileIndex([f"/nowhere/{i}.png" for i in range(20)], labels, ["cat", "dog"], [], split=placed)
    split = split_of(DataConfig(validation_split=0.25), index, seed=0)
    assert split[:2].tolist() == ["test", "val"]
    assert sorted(split[2:]) == ["train"] * 13 + ["val"] * 5  # a quarter of the 18 unplaced, rounded up
    assert (split_of(DataConfig(validation_split=0), index, seed=0)[2:] == "train").all()


def test_one_class_is_refused_before_any_split():
    index = FileIndex(["/nowhere/a.png", "/nowhere/b.png"], np.array([0, 0]), ["cats"], [])
    with pytest.raises(RunnerError, match=r"data: one class only \('cats'\)"):
        split_of(DataConfig(), index, seed=0)


def test_a_split_refused_for_too_few_images_names_the_files_skipped_on_the_way():
    labels = np.array([0, 0, 1])
    skipped = [(f"/nowhere/dog{i}.png", "cannot decode: broken") for i in range(5)]
    index = FileIndex([f"/nowhere/{i}.png" for i in range(3)], labels, ["cat", "dog"], skipped)
    with pytest.raises(RunnerError) as refused:
        split_of(DataConfig(), index, seed=0)
    assert str(refused.value).startswith("data.validation_split=0.2: cannot split 3 images by class")
    assert str(refused.value).endswith(
        "(5 files skipped: 5 cannot decode: /nowhere/dog0.png, /nowhere/dog1.png, /nowhere/dog2.png, "
        "... (5 in all).)"
    )


def test_a_split_the_per_class_cap_left_too_few_images_for_says_so():
    labels = np.repeat(np.arange(4), 25)
    index = FileIndex([f"/nowhere/{i}.png" for i in range(100)], labels, list("abcd"), []).capped_at(1)
    with pytest.raises(RunnerError) as refused:
        split_of(DataConfig(max_per_class=1), index, seed=0)
    assert str(refused.value).startswith("data.validation_split=0.2: cannot split 4 images by class")
    assert str(refused.value).endswith(
        "Or raise data.max_per_class=1 (96 images left out by it), e.g. data.max_per_class=10."
    )


def test_classes_a_placed_split_leaves_without_images_are_warned_of(caplog):
    # data.val_path or data.split_column can do it; a stratified split never does.
    index = FileIndex(
        [f"/nowhere/{i}.png" for i in range(4)], np.array([0, 1, 0, 2]), ["bird", "cat", "dog"], []
    )
    warn_uncovered(index, np.array(["train", "train", "val", "val"], dtype=object))
    assert caplog.messages == [
        "no training images of 'dog': the model cannot learn it. Add some, or leave it out: "
        "data.class_names=[bird,cat]",
        "no validation images of 'cat': val_* metrics leave it out. Add some, or leave it out: "
        "data.class_names=[bird,dog]",
    ]
    caplog.clear()
    warn_uncovered(index, np.array(["train"] * 4, dtype=object))  # no validation: nothing to cover
    index.labels[:] = [0, 1, 2, 2]
    warn_uncovered(index, np.array(["train", "train", "train", "test"], dtype=object))
    assert caplog.messages[-1].startswith("no test images of 'bird', 'cat': test_* metrics leave them out.")
    caplog.clear()
    warn_uncovered(index, np.array(["train", "train", "train", "val"], dtype=object))
    assert caplog.messages == [
        "no validation images of 'bird', 'cat': val_* metrics leave them out. Add "
        "some, or leave them out: data.class_names=[dog]"
    ]


def test_the_split_and_an_epochs_batches_are_said_and_a_batch_past_the_training_images_warned_of(caplog):
    caplog.set_level("INFO")
    log_split(1437, 360, 0, 32)  # digits' split
    assert caplog.messages == ["1437 training images (an epoch: 45 batches of 32), 360 validation, 0 test"]
    caplog.clear()
    log_split(1437, 360, 0, 5000)  # ten epochs would be ten updates
    assert caplog.messages == [
        "1437 training images (an epoch: 1 batch of 1437), 360 validation, 0 test",
        "data.batch_size=5000 is more than the 1437 training images: each epoch is one update of the "
        "weights. A smaller batch makes more: data.batch_size=32 makes 45 batches an epoch",
    ]
    caplog.clear()
    log_split(28, 0, 8, 32)  # a tiny folder
    assert caplog.messages[1].endswith("data.batch_size=4 makes 7 batches an epoch")


def test_several_classes_per_image_split_by_their_rarest_and_are_each_covered(caplog):
    from runner.sources.labels import multi_labels_of

    # 'rare' comes only beside 'common': split by the first class, it could all land in training.
    cells = ["common rare"] * 10 + ["common"] * 70 + ["other"] * 20
    names, rarest, multi = multi_labels_of([cell.split() for cell in cells], None)
    assert names == ["common", "other", "rare"]
    index = FileIndex([f"{i}.png" for i in range(100)], rarest, names, multi=multi)
    for seed in range(10):
        split = split_of(DataConfig(validation_split=0.2), index, seed=seed)
        assert [int(multi[split == "val", c].sum()) for c in range(3)] == [16, 4, 2]  # a fifth of each
    split = np.full(100, "train", dtype=object)
    split[[0, 99]] = "val"  # 'common rare' and 'other': each class validated
    warn_uncovered(index, split)
    assert not caplog.text
    split[0] = "train"
    warn_uncovered(index, split)
    assert "no validation images of 'common', 'rare': val_* metrics leave them out" in caplog.text


def test_numbers_split_by_their_ranges_so_validation_has_low_and_high_ones_alike():
    from runner.sources.labels import numbers_of

    # Ages 0-99, listed young first; validated on a fifth of each tenth of the range.
    numbers, strata, _ = numbers_of([str(age) for age in range(100) for _ in range(2)])
    index = FileIndex([f"{i}.png" for i in range(200)], strata, [], numbers=numbers)
    for seed in range(10):
        split = split_of(DataConfig(validation_split=0.2), index, seed=seed)
        validated = numbers[split == "val"]
        assert np.histogram(validated, bins=10, range=(0, 100))[0].tolist() == [4] * 10


def test_numbers_the_source_left_unplaced_are_split_by_their_own_ranges():
    from runner.sources.labels import numbers_of

    # data.split_column placed all but 25 of 200; of all 200's ten ranges, one holds a single free image.
    numbers, strata, _ = numbers_of([str(v) for v in range(200)])
    placed = np.array(["train"] * 175 + [""] * 25, dtype=object)
    placed[[3]] = ""  # the lowest range: one free image
    placed[199] = "train"
    index = FileIndex([f"{i}.png" for i in range(200)], strata, [], split=placed, numbers=numbers)
    split = split_of(DataConfig(validation_split=0.2), index, seed=0)
    assert (split[placed != ""] == "train").all() and (split == "val").sum() == 5


def test_numbers_too_few_to_split_say_so_in_ranges_not_classes():
    from runner.sources.labels import numbers_of

    numbers, strata, _ = numbers_of([str(v) for v in range(200)])  # ten ranges of 20
    index = FileIndex([f"{i}.png" for i in range(200)], strata, [], numbers=numbers)
    with pytest.raises(RunnerError) as refused:
        split_of(DataConfig(validation_split=0.02), index, seed=0)  # 4 images for ten ranges
    assert str(refused.value).startswith(
        "data.validation_split=0.02: cannot split 200 images by range of values: it validates on 4"
    ) and str(refused.value).endswith(
        "as there are ranges of values (10). Set data.validation_split between 0.05 and 0.95."
    )


def test_a_range_of_values_of_one_image_is_named_by_its_values():
    # Ranges hold equal counts, but ties can leave one alone: 59 of 60 images at 1, three ranges.
    numbers = np.array([0.5] + [1.0] * 59 + [2.0] * 5, np.float32)
    index = FileIndex([f"{i}.png" for i in range(65)], np.zeros(65, np.int32), [], numbers=numbers)
    index.split = np.array([""] * 60 + ["train"] * 5, dtype=object)
    with pytest.raises(RunnerError) as refused:
        split_of(DataConfig(), index, seed=0)
    assert "by range of values: '0.5' has one image" in str(refused.value)
    assert "data.class_names" not in str(refused.value)


def test_folds_more_than_any_class_has_images_name_the_most_that_work():
    with pytest.raises(RunnerError) as refused:
        fold_split(np.array([0, 0, 0, 1, 1]), 5, 0, seed=0)
    assert str(refused.value) == (
        "data.folds=5: cannot split 5 images into 5 folds by class: no class has 5 images (the most: "
        "3). Lower data.folds to 3, or add images."
    )
    assert len(fold_split(np.array([0, 0, 0, 1, 1]), 3, 0, seed=0)[1]) in (1, 2)


def test_a_class_with_fewer_images_than_folds_is_named_by_the_runner_not_scikit_learn(caplog):
    labels = np.array([0] * 20 + [1] * 2)
    index = FileIndex([f"/nowhere/{i}.png" for i in range(22)], labels, ["cat", "fish"], [])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # scikit-learn's UserWarning would be raised here
        splits = [split_of(DataConfig(folds=5, fold=fold), index, seed=0) for fold in range(5)]
    for split in splits:
        warn_uncovered(index, split)
    lacking = sum(not (split[20:] == "val").any() for split in splits)
    assert (
        lacking == 3
        and caplog.messages
        == [
            "no validation images of 'fish': val_* metrics leave it out. Add some, or leave it out: "
            "data.class_names=[cat]"
        ]
        * 3
    )


def test_imbalance_names_the_largest_and_smallest_training_class_from_three_times():
    def said(cats: int, dogs: int, birds: int) -> str | None:
        labels = np.array([0] * cats + [1] * dogs + [2] * birds + [2] * 20)  # 20 birds to validate
        index = FileIndex(
            [f"/nowhere/{i}.png" for i in range(len(labels))], labels, ["cat", "dog", "Bird Species"], []
        )
        return imbalance(index, np.array(["train"] * (len(labels) - 20) + ["val"] * 20, dtype=object))

    assert said(12, 6, 4) == (
        "imbalanced: 'cat' has 12 training images, 'Bird Species' 4 (3.0×); "
        "trainer.class_weight=balanced weighs each class alike"
    )
    assert said(11, 6, 4) is None  # validation images do not count; below three times, nothing
    assert said(4, 22, 5).startswith("imbalanced: 'dog' has 22 training images, 'cat' 4 (5.5×)")
    multi = np.array([[1, 0], [1, 0], [1, 0], [1, 1]], np.uint8)  # class weights refused: not said
    several = FileIndex(["/nowhere/a.png"] * 4, np.array([0, 0, 0, 1]), ["cat", "dog"], [], multi=multi)
    assert imbalance(several, np.array(["train"] * 4, dtype=object)) is None
