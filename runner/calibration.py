"""How far a model's probabilities can be taken at their word, on a run's validation and test images
and by ``runner.evaluate``: the reliability diagram and its expected calibration error, and the
temperature that calibrates a model (which ``runner.predict --calibrated`` applies).

A threshold on a probability counts on it; accuracy and F1 say nothing of it."""

from __future__ import annotations

import numpy as np

BINS = 10  # of the predicted class's probability, in eval/<prefix>calibration.csv and .png
TEMPERATURES = np.geomspace(0.05, 20, 241)  # tried by temperature_of: each 2.5% above the last


def log_calibration(confidence: np.ndarray, right: np.ndarray, prefix: str = "") -> float:
    """``eval/<prefix>calibration.csv`` and ``.png`` (a reliability diagram): the images in ``BINS``
    equal bins of the probability the model gave the class it predicted (``confidence``), and in
    each, that probability's mean against how often the prediction was ``right``. A calibrated
    model's are equal (of the images it gives 0.9, nine in ten are right), which a threshold on
    ``runner.predict``'s probability counts on; accuracy and F1 do not show it. Returns the
    expected calibration error: the gap between the two, averaged over the images."""
    import mlflow
    from matplotlib.figure import Figure

    from runner import record

    rows, error = calibration(confidence, right)
    header = ["bin", "images", "mean_probability", "accuracy"]
    mlflow.log_text(record.csv_text(header, rows), f"eval/{prefix}calibration.csv")
    figure = Figure(figsize=(5, 5), layout="constrained")
    axes = figure.subplots()
    filled = [(k / BINS, float(row[3]), row[1]) for k, row in enumerate(rows) if row[1]]
    drawn = axes.bar([x for x, _, _ in filled], [y for _, y, _ in filled], 1 / BINS, align="edge")
    axes.bar_label(drawn, labels=[str(n) for _, _, n in filled], fontsize=8)  # few images: chance
    axes.plot([0, 1], [0, 1], color="grey", linewidth=1)
    axes.set(
        xlim=(0, 1),
        ylim=(0, 1.05),
        xlabel="probability of the predicted class",
        ylabel="fraction right",
        title=f"{len(confidence)} images, expected calibration error {error:.3f}",
    )
    mlflow.log_figure(figure, f"eval/{prefix}calibration.png")
    return error


def calibration(confidence: np.ndarray, right: np.ndarray) -> tuple[list[list], float]:
    """``log_calibration``'s rows (bin, images, mean probability, accuracy) and its error."""
    edges = np.linspace(0, 1, BINS + 1)
    bins = np.digitize(confidence, edges[1:-1], right=True)  # bin k holds (edges[k], edges[k + 1]]
    rows, gaps = [], 0.0
    for k in range(BINS):
        inside = bins == k
        count = int(inside.sum())
        row = [f"{edges[k]:.1f}-{edges[k + 1]:.1f}", count, "", ""]
        if count:
            said, hits = float(confidence[inside].mean()), float(right[inside].mean())
            gaps += count * abs(said - hits)
            row[2:] = [f"{said:.4f}", f"{hits:.4f}"]
        rows.append(row)
    return rows, gaps / len(confidence)


def temperature_of(probabilities: np.ndarray, truth: np.ndarray) -> float | None:
    """The temperature T that makes ``scaled(probabilities, T)`` likeliest for the true classes
    (temperature scaling, Guo et al. 2017), of ``TEMPERATURES``: over 1 softens an overconfident
    model's probabilities, under 1 sharpens an underconfident one's; no prediction changes. None
    where the likeliest is an end of the search: with every image right, the colder the likelier,
    without end (a model would be made to say 1.0 to everything), and near it for a model far less
    sure than right; no better than chance, the hotter (``no_temperature`` says which)."""
    best = int(np.argmin([surprise(probabilities, truth, t) for t in TEMPERATURES]))
    return None if best in (0, len(TEMPERATURES) - 1) else float(TEMPERATURES[best])


def no_temperature(probabilities: np.ndarray, truth: np.ndarray) -> str:
    """Why ``temperature_of`` found none: which end of the search the true classes pull to. The
    cold end is every image right, or a model far less sure than right: near-equal probabilities,
    as after an epoch or two, which no temperature in the search sharpens enough."""
    if surprise(probabilities, truth, TEMPERATURES[0]) >= surprise(probabilities, truth, TEMPERATURES[-1]):
        return "the model is no better than chance on them: the more alike its probabilities, the likelier"
    right = float((probabilities.argmax(axis=1) == truth).mean())
    if right == 1:
        return "every one right: the colder, the likelier"
    said = float(probabilities.max(axis=1).mean())
    return (
        f"{right:.0%} of them right, and their likeliest class given {said:.2f} on average: "
        f"probabilities too alike for any temperature down to {TEMPERATURES[0]:g} to sharpen "
        f"enough, an undertrained model's (more epochs)"
    )


def surprise(probabilities: np.ndarray, truth: np.ndarray, temperature: float) -> float:
    """The mean negative log-likelihood of the true classes at ``temperature``."""
    return float(-np.log(scaled(probabilities, temperature)[np.arange(len(truth)), truth] + 1e-12).mean())


def scaled(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """Each row of softmax ``probabilities`` (images x classes) at ``temperature``: their logits,
    which a softmax gives back up to a constant, divided by it."""
    logits = np.log(np.clip(probabilities, 1e-12, 1)) / temperature
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)
