"""`model=small_cnn|application|file|function`: what each builds, what it refuses, and a fit through
the CLI."""

from __future__ import annotations

import warnings

import keras
import numpy as np
import pytest
from conftest import error_lines, mlflow_runs, outputs_of, run_cli, train_cli, train_here

from runner.errors import RunnerError
from runner.models import application, from_function, saved, small_cnn

TINY = {"name": "MobileNet", "backbone": {"alpha": 0.25}}  # the quickest backbone to build and fit


def test_binary_labels_get_one_sigmoid_unit_that_learns():
    # Bright images are class 1, dark ones class 0: trivially separable.
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 64)
    images = (labels[:, None, None, None] * 150 + rng.integers(0, 100, (64, 8, 8, 3))).astype(np.uint8)
    keras.utils.set_random_seed(0)
    model = small_cnn((8, 8, 3), 1, filters=(4,), dense=8)
    model.compile(keras.optimizers.Adam(0.01), "binary_crossentropy", metrics=["accuracy"])
    history = model.fit(images, labels.astype(np.float32), epochs=40, verbose=0).history
    assert history["accuracy"][-1] >= 0.95  # a softmax over one unit outputs 1.0 always: ~0.5
    assert application((32, 32, 3), 1, **TINY).layers[-1].activation.__name__ == "sigmoid"


def test_application_backbone_trains_and_its_checkpoint_loads_safely(photos, tmp_path):
    run = train_here(
        "data=dir",
        f"data.path={photos}",
        "data.image_size=[32,32]",
        "model=application",
        "model.name=MobileNet",
        "+model.backbone.alpha=0.25",
        "trainer.epochs=1",
        "tracking.log_model=false",
        cwd=tmp_path,
    )
    assert run.info.status == "FINISHED" and run.data.params["model.name"] == "MobileNet"
    checkpoint = outputs_of(tmp_path, run) / "checkpoints" / "last.keras"
    model = keras.models.load_model(checkpoint, safe_mode=True)  # preprocess_input is ops, not code
    probabilities = model.predict(np.zeros((2, 32, 32, 3), np.uint8), verbose=0)
    assert probabilities.shape == (2, 3) and np.allclose(probabilities.sum(axis=1), 1, atol=1e-5)


def test_frozen_backbone_trains_only_the_head_and_any_channel_count_fits():
    model = application((32, 32, 1), 4, trainable=False, **TINY)  # grayscale: repeated to 3 channels
    assert [w.shape for w in model.trainable_weights] == [(256, 4), (4,)]
    assert application((32, 32, 1), 4, **TINY).trainable_weights[0].shape != (256, 4)
    rgba = application((32, 32, 4), 4, **TINY)  # the alpha channel is dropped
    assert rgba.predict(np.zeros((1, 32, 32, 4), np.uint8), verbose=0).shape == (1, 4)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"name": "MobilNetV2"}, "model.name=MobilNetV2: not in keras.applications. Did you mean 'Mob"),
        ({"name": "MobileNet", "backbone": {"alpah": 1}}, "model.backbone.alpah: .* Did you mean 'alpha'?"),
        (
            {"name": "MobileNet", "input_shape": (16, 16, 3)},
            r"image_size=\[16, 16\]\): Input size must be at least 32x32; .* data.image_size=\[32,32\] or",
        ),
        # Keras's words do not name the value ("invalid literal for int()"): the line does.
        ({"name": "MobileNet", "backbone": {"alpha": "abc"}}, r"image_size=\[32, 32\], alpha=abc\): "),
    ],
)
def test_application_refusals_name_the_key(kwargs, expected):
    input_shape = kwargs.pop("input_shape", (32, 32, 3))
    with pytest.raises(RunnerError, match=expected):
        application(input_shape, 3, **kwargs)


@pytest.mark.parametrize(
    ("size", "name", "expected"),
    [
        (32, "MobilNetV2", "model.name=MobilNetV2: not in keras.applications"),
        # Only building the backbone tells: it is built before the run, not after the decode.
        (16, "MobileNet", "model.name=MobileNet (weights=None, data.image_size=[16, 16]): Input size"),
    ],
)
def test_a_backbone_keras_refuses_is_refused_before_its_run_and_decode_start(
    photos, tmp_path, size, name, expected
):
    args = ("data=dir", f"data.path={photos}", f"data.image_size=[{size},{size}]", "model=application")
    result = run_cli(*args, f"model.name={name}", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    [line] = error_lines(result)
    assert line.startswith(f"runner: error: {expected}")
    assert mlflow_runs(tmp_path) == [] and "runner.cache" not in result.stderr  # no run, no decode


def test_imagenet_weights_that_cannot_download_are_refused_before_the_run(photos, tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))  # none downloaded yet
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")  # nothing listens: offline, at once
    args = ("data=dir", f"data.path={photos}", "data.image_size=[32,32]", "model=application")
    result = run_cli(
        *args, "model.name=MobileNet", "+model.backbone.alpha=0.25", "model.weights=imagenet", cwd=tmp_path
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    [line] = error_lines(result)
    assert line.startswith("runner: error: model.weights=imagenet: cannot get MobileNet's weights (URL fetch")
    assert line.endswith("without internet use model.weights=null (random initial weights).")
    assert mlflow_runs(tmp_path) == [] and "runner.cache" not in result.stderr  # no run, no decode


def test_saved_model_trains_further_from_its_own_weights(photos, tmp_path):
    start = small_cnn((16, 16, 3), 3, filters=(4,), dense=8)
    start.save(tmp_path / "start.keras")
    run = train_here(
        "data=dir",
        f"data.path={photos}",
        "data.image_size=[16,16]",
        "model=file",
        f"model.path={tmp_path / 'start.keras'}",
        "model.unfreeze=true",  # a no-op here (every layer learns already): the key reaches saved()
        "trainer.epochs=1",
        # A rate of 0 (an int to Hydra): the weights it ends with are the ones it started from.
        "trainer.optimizer.learning_rate=0",
        "tracking.log_model=false",
        cwd=tmp_path,
    )
    ended = keras.models.load_model(outputs_of(tmp_path, run) / "checkpoints" / "last.keras", safe_mode=True)
    assert all(np.array_equal(a, b) for a, b in zip(start.get_weights(), ended.get_weights(), strict=True))


def test_saved_model_refusals_name_the_file_and_the_fix(tmp_path):
    model = small_cnn((16, 16, 3), 3, filters=(4,), dense=8)
    model.save(tmp_path / "ok.keras")
    with pytest.raises(
        RunnerError,
        match=r"shape \(16, 16, 3\), the data gives \(32, 32, 3\)\. Set data.image_size=\[16,16\]\.$",
    ):
        saved(str(tmp_path / "ok.keras"), (32, 32, 3), 3)
    with pytest.raises(RunnerError, match=r"gives 3 outputs, and this run needs 5 \(one per class"):
        saved(str(tmp_path / "ok.keras"), (16, 16, 3), 5)
    inputs = keras.Input((16, 16, 3))
    code = keras.Model(inputs, keras.layers.Lambda(lambda x: x * 2)(inputs))
    code.save(tmp_path / "code.keras")
    with pytest.raises(RunnerError, match="code.keras: cannot load: it holds code"):
        saved(str(tmp_path / "code.keras"), (16, 16, 3), 3)


def test_unfreeze_fine_tunes_a_frozen_backbone_but_keeps_its_batchnorm_statistics(tmp_path):
    # The shape of experiment=transfer's model: a frozen backbone with BatchNorm, under a new head.
    layers = keras.layers
    backbone = keras.Sequential(
        [keras.Input((8, 8, 3)), layers.Conv2D(4, 3), layers.BatchNormalization(), layers.ReLU()]
    )
    backbone.trainable = False
    inputs = keras.Input((8, 8, 3))
    features = layers.GlobalAveragePooling2D()(backbone(layers.Rescaling(1 / 255)(inputs)))
    keras.Model(inputs, layers.Dense(3, activation="softmax")(features)).save(tmp_path / "frozen.keras")
    assert len(saved(str(tmp_path / "frozen.keras"), (8, 8, 3), 3).trainable_weights) == 2  # as saved
    model = saved(str(tmp_path / "frozen.keras"), (8, 8, 3), 3, unfreeze=True)
    statistics = [w for w in model.weights if "moving_" in w.path]
    [kernel] = [w for w in model.trainable_weights if "conv2d" in w.path and w.path.endswith("kernel")]
    before = [keras.ops.convert_to_numpy(w).copy() for w in [*statistics, kernel]]
    rng = np.random.default_rng(0)
    model.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy")
    model.fit(rng.integers(0, 255, (16, 8, 8, 3), np.uint8), rng.integers(0, 3, 16), epochs=1, verbose=0)
    after = [keras.ops.convert_to_numpy(w) for w in [*statistics, kernel]]
    assert len(statistics) == 2 and all(
        np.array_equal(a, b) for a, b in zip(before[:2], after[:2], strict=True)
    )
    assert not np.array_equal(before[2], after[2])  # the backbone learns


MY_MODELS = """
import warnings

import keras
from keras import layers


def tiny(input_shape, num_classes, width=8, head="softmax"):
    inputs = keras.Input(input_shape)
    x = layers.Rescaling(1 / 255)(inputs)
    x = layers.Conv2D(width, 3, activation="relu")(x)
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, layers.Dense(num_classes, activation=head)(x), name="tiny")


def fixed_size(input_shape, num_classes):
    return tiny((8, 8, 3), num_classes)


def three_classes(input_shape, num_classes):
    return tiny(input_shape, 3)


def nothing(input_shape, num_classes):
    return None


def no_units(input_shape, num_classes):  # a layer Keras refuses, built in your code
    return tiny(input_shape, num_classes, width=-1)


def logit(input_shape, num_classes):  # a linear unit that says 0.3 to everything: in 0-1 by chance
    inputs = keras.Input(input_shape)
    x = layers.GlobalAveragePooling2D()(inputs)
    bias = keras.initializers.Constant(0.3)
    head = layers.Dense(num_classes, kernel_initializer="zeros", bias_initializer=bias)
    return keras.Model(inputs, head(x))
"""


def test_your_own_model_function_trains_from_the_cli_and_its_checkpoint_loads_without_it(photos, tmp_path):
    (tmp_path / "my_models.py").write_text(MY_MODELS)
    run = train_cli(
        "data=dir",
        f"data.path={photos}",
        "data.image_size=[16,16]",
        "model=function",
        "model.fn=my_models:tiny",
        "+model.kwargs.width=4",
        "aug=flip",
        "aug.placement=model",  # the runner puts them before your model
        "trainer.epochs=1",
        "tracking.log_model=false",
        cwd=tmp_path,
    )
    assert run.info.status == "FINISHED" and run.data.params["model.fn"] == "my_models:tiny"
    assert run.data.params["model.kwargs.width"] == "4"
    checkpoint = next(tmp_path.glob("outputs/**/checkpoints/last.keras"))
    model = keras.models.load_model(checkpoint, safe_mode=True)  # Keras's own layers: no my_models
    assert model.name == "tiny" and model.inputs[0].dtype == "uint8"
    assert any(isinstance(layer, keras.layers.RandomFlip) for layer in model.layers)
    [yours] = [layer for layer in model.layers if layer.name == "tiny"]
    assert yours.layers[2].filters == 4
    probabilities = model.predict(np.zeros((2, 16, 16, 3), np.uint8), verbose=0)
    assert probabilities.shape == (2, 3) and np.allclose(probabilities.sum(axis=1), 1, atol=1e-5)


@pytest.mark.parametrize(
    ("fn", "kwargs", "classes", "expected"),
    [
        ("my_models:nothing", {}, 5, "returned NoneType, not a keras.Model."),
        # Your code's own error: where in it (the layer Keras refused), not a traceback.
        ("my_models:no_units", {}, 5, "raised ValueError: Invalid value for argument `filters`."),
        ("my_models:no_units", {}, 5, "Received filters=-1. (at my_models.py:11, in tiny)"),  # its Conv2D
        (
            "my_models:fixed_size",
            {},
            5,
            "its model fails on a batch of the data's images (float32, shape (2, 16, 16, 3))",
        ),
        (
            "my_models:three_classes",
            {},
            5,
            "gives outputs of shape (3,) for each image, and this run needs (5,)",
        ),
        ("my_models:tiny", {"head": None}, 5, "its model's outputs are not probabilities (e.g. ["),
        (
            "my_models:tiny",
            {"head": "softmax"},
            1,
            "its model's one output is always 1 (a softmax over one unit)",
        ),
        (
            "my_models:tiny",
            {"widht": 4},
            5,
            "takes no 'widht'. Did you mean 'width'? It takes (input_shape, ",
        ),
        (
            "my_model:tiny",
            {},
            5,
            "cannot import 'my_model' (No module named 'my_model'). Did you mean 'my_models'?",
        ),
    ],
)
def test_your_model_function_is_refused_in_one_line_naming_the_fix(
    fn, kwargs, classes, expected, tmp_path, monkeypatch
):
    (tmp_path / "my_models.py").write_text(MY_MODELS)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(RunnerError) as refused:
        from_function(fn, (16, 16, 3), classes, kwargs)
    assert str(refused.value).startswith(f"model.fn={fn}: ")
    assert expected in str(refused.value)
    assert from_function("my_models:tiny", (16, 16, 3), 1, {"head": "sigmoid"}).output_shape == (None, 1)


def test_several_classes_per_image_need_a_sigmoid_each(tmp_path, monkeypatch):
    # A softmax makes the classes compete, where each is its own yes or no: refused for a model
    # of yours or a saved one; the runner's own get a sigmoid each.
    (tmp_path / "my_models.py").write_text(MY_MODELS)
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(RunnerError, match="outputs sum to 1 \\(a softmax\\), and data.label_mode=multi_hot"):
        from_function("my_models:tiny", (16, 16, 3), 3, {}, output="sigmoid")
    for classes in (2, 3):  # two untrained sigmoids sum to 1 on a black image too: not refused
        mine = from_function("my_models:tiny", (16, 16, 3), classes, {"head": "sigmoid"}, output="sigmoid")
        assert mine.output_shape == (None, classes)
    ours = small_cnn((16, 16, 3), 3, filters=(4,), dense=8, output="sigmoid")
    assert ours.layers[-1].activation is keras.activations.sigmoid
    ours.save(tmp_path / "several.keras")
    assert saved(str(tmp_path / "several.keras"), (16, 16, 3), 3, output="sigmoid").output_shape == (None, 3)
    small_cnn((16, 16, 3), 3, filters=(4,), dense=8).save(tmp_path / "one.keras")
    with pytest.raises(RunnerError, match="one.keras: its output layer is no sigmoid"):
        saved(str(tmp_path / "one.keras"), (16, 16, 3), 3, output="sigmoid")


def test_a_number_per_image_needs_one_unsquashed_output(tmp_path, monkeypatch):
    # A sigmoid or softmax would bound what the model can say: refused for a model of yours; the
    # runner's own end in one linear unit (fit scales it to the numbers: test_fit).
    (tmp_path / "my_models.py").write_text(MY_MODELS)
    monkeypatch.syspath_prepend(str(tmp_path))
    for head in ("sigmoid", "softmax"):
        with pytest.raises(
            RunnerError, match=f"ends in a {head}, and data.label_mode=regression predicts any"
        ):
            from_function("my_models:tiny", (16, 16, 3), 1, {"head": head}, output="linear")
    mine = from_function("my_models:tiny", (16, 16, 3), 1, {"head": None}, output="linear")
    assert mine.output_shape == (None, 1)
    ours = small_cnn((16, 16, 3), 1, filters=(4,), dense=8, output="linear")
    assert ours.layers[-1].activation is keras.activations.linear and ours.layers[-1].name == "value"
    ours.save(tmp_path / "number.keras")
    assert saved(str(tmp_path / "number.keras"), (16, 16, 3), 1, output="linear").output_shape == (None, 1)
    small_cnn((16, 16, 3), 1, filters=(4,), dense=8).save(tmp_path / "binary.keras")  # one sigmoid
    with pytest.raises(
        RunnerError, match="binary.keras: its output layer is a sigmoid, and data.label_mode=regression"
    ):
        saved(str(tmp_path / "binary.keras"), (16, 16, 3), 1, output="linear")


def test_a_binary_model_whose_logit_falls_in_0_1_by_chance_is_refused_by_its_output_layer(
    tmp_path, monkeypatch
):
    (tmp_path / "my_models.py").write_text(MY_MODELS)
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(
        RunnerError, match="output layer has no activation, so it gives logits.*activation='sigmoid'"
    ):
        from_function("my_models:logit", (16, 16, 3), 1, {})
    assert from_function("my_models:logit", (16, 16, 3), 1, {}, output="linear").output_shape == (None, 1)


def test_imagenet_weights_for_another_size_are_said_in_one_line_naming_the_nearest(
    tmp_path, monkeypatch, caplog
):
    import h5py
    from keras.src.legacy.saving import legacy_h5_format

    # MobileNet's ImageNet weights for 224 px, as Keras would have downloaded them (random here),
    # in a KERAS_HOME of this test's (Keras read the variable as it was imported).
    monkeypatch.setattr(keras.src.backend.config, "_KERAS_DIR", str(tmp_path / "keras"))
    downloaded = tmp_path / "keras" / "models" / "mobilenet_2_5_224_tf_no_top.h5"
    downloaded.parent.mkdir(parents=True)
    made = keras.applications.MobileNet(
        include_top=False, weights=None, alpha=0.25, input_shape=(224, 224, 3)
    )
    with h5py.File(downloaded, "w") as file:
        legacy_h5_format.save_weights_to_hdf5_group(file, made)
    with warnings.catch_warnings(record=True) as python_said:
        warnings.simplefilter("always")
        model = application((150, 150, 3), 3, weights="imagenet", **TINY)
    assert not [w for w in python_said if "rows" in str(w.message)]  # said by the runner instead
    backbone = next(layer for layer in model.layers if isinstance(layer, keras.Model))
    assert np.array_equal(backbone.get_weights()[0], made.get_weights()[0])  # 224's weights, as said
    [said] = [r.getMessage() for r in caplog.records if r.name == "runner.models"]
    assert said == (
        "model.name=MobileNet: its ImageNet weights are made for 128, 160, 192 or 224 px squares, and "
        "data.image_size=[150, 150] gets those for 224 px: they work at other sizes, best near their own "
        "(data.image_size=[160,160] is the nearest)."
    )
