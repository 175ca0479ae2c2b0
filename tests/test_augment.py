"""Each augmentation option does what its name says, seeded, and never touches validation data."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import compose, error_lines, mlflow_runs, photo_folder, run_cli
from omegaconf import OmegaConf

from runner import augment, pipeline
from runner.errors import RunnerError
from runner.schemas.data import LabelMode
from runner.sources import DirSource

N = 16


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    """Asymmetric images (a left-to-right ramp plus noise), so a mirror is always detectable."""
    ramp = np.linspace(0, 200, 32, dtype=np.float32)[None, None, :, None]
    noise = np.random.default_rng(0).integers(0, 40, (N, 32, 32, 3))
    return np.clip(ramp + noise, 0, 255).astype(np.uint8)


def run_stack(ops, images, seed=0, labels=None):
    """One training batch through the real tf.data pipeline with the layers of ``ops``."""
    stack = augment.layers(OmegaConf.create({"ops": ops, "placement": "pipeline"}), seed)
    labels = np.arange(len(images)) % 2 if labels is None else labels
    encode = pipeline.label_encoder(LabelMode.categorical, 2)
    ds = pipeline.batches(
        images, np.arange(len(images)), labels, len(images), augment=augment.apply(stack), encode=encode
    )
    x, y = next(iter(ds))
    return x.numpy(), y.numpy()


def option_ops(option: str) -> dict:
    return OmegaConf.to_container(compose(f"aug={option}").aug.ops)


def test_none_is_the_identity(images):
    assert option_ops("none") == {}
    out, _ = run_stack({}, images)
    np.testing.assert_array_equal(out, images)


def test_flip_mirrors_some_images_and_leaves_the_rest(images):
    out, _ = run_stack(option_ops("flip"), images)
    mirrored = [np.array_equal(o, i[:, ::-1]) for o, i in zip(out, images, strict=True)]
    same = [np.array_equal(o, i) for o, i in zip(out, images, strict=True)]
    assert all(m or s for m, s in zip(mirrored, same, strict=True))
    assert any(mirrored) and any(same)


@pytest.mark.parametrize("op", ["rotation", "zoom", "translation", "contrast"])
def test_standard_ops_change_pixels_keep_shape_and_dtype(images, op):
    out, _ = run_stack({op: option_ops("standard")[op]}, images)
    assert out.shape == images.shape and out.dtype == np.uint8
    assert not np.array_equal(out, images)


@pytest.mark.parametrize("option", ["standard", "idg", "randaugment"])
def test_options_change_pixels_keep_shape_and_dtype(images, option):
    out, _ = run_stack(option_ops(option), images)
    assert out.shape == images.shape and out.dtype == np.uint8
    assert np.mean(out != images) > 0.1


@pytest.mark.parametrize("option", ["mixup", "cutmix"])
def test_mixup_and_cutmix_mix_labels_too(images, option):
    assert compose(f"aug={option}").data.label_mode == LabelMode.categorical
    out, labels = run_stack(option_ops(option), images)
    assert not np.array_equal(out, images)
    np.testing.assert_allclose(labels.sum(axis=1), 1.0, rtol=1e-5)
    assert ((labels > 0.01) & (labels < 0.99)).any()  # some labels are now a mix of two classes


def test_same_seed_same_batch_other_seed_other_batch(images):
    ops = option_ops("standard")
    first, again, other = (run_stack(ops, images, seed=s)[0] for s in (1, 1, 2))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_a_batch_is_augmented_by_its_step_alone(images):
    """A resumed run's batch draws what the uninterrupted run's did: the draws come from the
    layers' seeds and the batch's step, not from state carried over from earlier batches."""
    run = augment.apply(augment.layers(OmegaConf.create({"ops": option_ops("standard")}), seed=0))
    labels = np.eye(2, dtype=np.float32)[np.arange(len(images)) % 2]
    first = run(images, labels, 3)[0].numpy()
    run(images, labels, 4)  # draws in between change nothing
    np.testing.assert_array_equal(run(images, labels, 3)[0].numpy(), first)
    assert not np.array_equal(run(images, labels, 4)[0].numpy(), first)


def test_validation_batches_are_never_augmented(tmp_path):
    index = DirSource(path=str(photo_folder(tmp_path, per_class=6))).index()
    cfg = compose("data=dir", f"data.path={tmp_path}", "data.image_size=[16,16]").data
    stack = augment.layers(compose("aug=standard").aug, seed=0)
    plain = pipeline.build(cfg, index, seed=0)
    augmented = pipeline.build(cfg, index, seed=0, augment=augment.apply(stack))
    for (a, _), (b, _) in zip(plain.val, augmented.val, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    train_a, train_b = next(iter(plain.train))[0].numpy(), next(iter(augmented.train))[0].numpy()
    assert not np.array_equal(train_a, train_b)


def test_mixing_needs_the_pipeline_and_one_hot_labels():
    cfg = compose("aug=mixup", "aug.placement=model")
    with pytest.raises(RunnerError, match="MixUp mixes labels.*aug.placement=pipeline"):
        augment.split_by_placement(cfg.aug, 0, LabelMode.categorical)
    with pytest.raises(RunnerError, match="set data.label_mode=categorical"):
        augment.split_by_placement(compose("aug=mixup").aug, 0, LabelMode.int)


def test_placement_model_puts_the_layers_in_the_model():
    in_pipeline, in_model = augment.split_by_placement(
        compose("aug=flip", "aug.placement=model").aug, 0, LabelMode.int
    )
    assert in_pipeline == [] and [type(layer).__name__ for layer in in_model] == ["RandomFlip"]


def test_an_op_that_cannot_take_the_images_is_refused_before_the_run(photos, tmp_path):
    stack = augment.layers(compose("aug=randaugment").aug, 0)
    augment.try_on(stack, [], (24, 24, 3), 3)  # RGB: taken
    with pytest.raises(
        RunnerError, match=r"^aug \(RandAugment\): Invalid channel size: expected 3 .*\(2, 24, 24, 4\)"
    ):
        augment.try_on([], stack, (24, 24, 4), 3)  # RGBA: refused in one line, not a traceback
    hue = augment.layers(
        OmegaConf.create({"ops": {"hue": {"_target_": "keras.layers.RandomHue", "factor": 0.2}}}), 0
    )
    with pytest.raises(
        RunnerError,
        match=r"^aug \(RandomHue\): input must have 3 channels but input only has 1 channels\. Drop",
    ):
        augment.try_on(hue, [], (24, 24, 1), 3)  # TensorFlow's op error, less its op names
    args = ("data=dir", f"data.path={photos}", "data.image_size=[24,24]", "data.color_mode=rgba")
    result = run_cli(*args, "aug=randaugment", "aug.placement=model", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    [line] = error_lines(result)
    assert line.endswith(
        "Drop or change that op in aug.ops, or the images it gets (data.color_mode, data.image_size)."
    )
    assert mlflow_runs(tmp_path) == []  # refused before the run was made and the files decoded


@pytest.mark.parametrize("placement", ["pipeline", "model"])
def test_a_stack_that_changes_the_image_size_is_refused_unless_it_ends_at_that_size(images, placement):
    # Validation images are never augmented (pipeline), or left as they are by RandomCrop (model).
    crop = {"crop": {"_target_": "keras.layers.RandomCrop", "height": 16, "width": 16}}
    back = {**crop, "back": {"_target_": "keras.layers.Resizing", "height": 32, "width": 32}}

    def tried(ops):
        stack = augment.layers(OmegaConf.create({"ops": ops}), 0)
        return augment.try_on(*((stack, []) if placement == "pipeline" else ([], stack)), (32, 32, 3), 2)

    with pytest.raises(
        RunnerError,
        match=r"^aug \(RandomCrop\): training images come out 16×16×3, validation images 32×32×3, ",
    ):
        tried(crop)
    tried(back)  # cropped, then resized back: the one size the model takes
    shrink = {"shrink": {"_target_": "keras.layers.Resizing", "height": 16, "width": 16}}
    if placement == "model":
        tried(shrink)  # a layer that is not random resizes validation images the same
    else:
        with pytest.raises(RunnerError, match=r"^aug \(Resizing\): training images come out 16×16×3"):
            tried(shrink)
    out, _ = run_stack(back, images)
    assert out.shape == images.shape and not np.array_equal(out, images)


def test_added_op_with_unknown_parameter_names_the_closest():
    ops = {"blur": {"_target_": "keras.layers.RandomGaussianBlur", "sigmaa": 1.0}}
    with pytest.raises(
        RunnerError, match="aug.ops.blur.sigmaa: .* no parameter 'sigmaa'.*Did you mean 'sigma'"
    ):
        augment.layers(OmegaConf.create({"ops": ops}), 0)


def test_unknown_flip_mode_is_an_error_not_a_silent_no_op():
    ops = {"flip": {"_target_": "keras.layers.RandomFlip", "mode": "horizonal"}}
    with pytest.raises(RunnerError, match="aug.ops.flip.mode=horizonal: .* Did you mean 'horizontal'"):
        augment.layers(OmegaConf.create({"ops": ops}), 0)


def test_added_op_without_a_required_parameter_says_how_to_set_it():
    ops = {"rot": {"_target_": "keras.layers.RandomRotation"}}
    with pytest.raises(
        RunnerError, match=r"aug.ops.rot: .*RandomRotation needs 'factor'; set it with \+aug.ops.rot.factor="
    ):
        augment.layers(OmegaConf.create({"ops": ops}), 0)


def test_any_keras_layer_can_be_added_by_target(images):
    ops = {"erase": {"_target_": "keras.layers.RandomErasing", "factor": 1.0}}
    out, _ = run_stack(ops, images)
    assert out.shape == images.shape and not np.array_equal(out, images)
    # RandomGrayscale takes images alone (Keras 3.15 fails on the images-and-labels dict).
    gray, _ = run_stack({"gray": {"_target_": "keras.layers.RandomGrayscale", "factor": 1.0}}, images)
    assert gray.shape == images.shape and (gray == gray[..., :1]).all() and not np.array_equal(gray, images)


def test_targets_outside_keras_and_runner_are_refused():
    with pytest.raises(RunnerError, match="not allowed"):
        augment.layers(OmegaConf.create({"ops": {"evil": {"_target_": "os.system", "command": "true"}}}), 0)
