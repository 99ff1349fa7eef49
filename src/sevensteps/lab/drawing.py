"""Draw a digit: what the model and the pixel-similarity baseline make of one 28×28 image, with the
per-pixel evidence (pixel × weight for the linear model, gradient × input for mlp and cnn) and an honest
"this looks like no digit I know"."""

from __future__ import annotations

from typing import Any

from ..backend import xp
from .views import encode_image, encode_weights

UNSURE = 0.6  # below this probability the model's answer is called unsure


def far_distance(baseline: Any, splits: Any) -> float:
    """A distance to the nearest ideal digit that 99.5% of the training images stay within."""
    nearest = baseline.distances(splits.train.images).min(axis=-1)
    return float(xp.quantile(nearest, 0.995))


def classify(image: Any, settings: Any, weights: dict[str, Any], splits: Any, baseline: Any,
             far: float) -> dict[str, Any]:
    """The verdicts on ``image`` (prepared like ``sevensteps predict``) by a model with these ``weights``
    (a built-in model of ``settings.model``) and by the baseline."""
    from ..metrics import probabilities
    from ..models import make_model, n_outputs_for

    model = make_model(settings.model, n_outputs_for(len(splits.classes)), settings.hidden)
    model.load_state_dict(weights)
    model.eval()
    probs = probabilities(model, image.reshape(1, 784), len(splits.classes))[0]
    names = splits.class_names()
    k = int(probs.argmax())
    distances = baseline.distances(image)
    nearest = int(distances.argmin())
    result: dict[str, Any] = {
        "input": encode_image(image), "prediction": names[k], "probability": float(probs[k]),
        "probabilities": dict(zip(names, map(float, probs), strict=True)),
        "baseline": {"prediction": names[nearest], "distances": dict(zip(names, map(float, distances), strict=True))},
        "far_distance": far,
    }
    unknown = []
    if float(distances.min()) > far:
        unknown.append(f"it is farther from every ideal digit ({float(distances.min()):.3f}) than 99.5% of the "
                       f"training images are ({far:.3f})")
    if float(probs[k]) < UNSURE:
        unknown.append(f"the model is unsure ({float(probs[k]):.0%})")
    result["unknown"] = ("This looks like no digit I know: " + " and ".join(unknown)) if unknown else None
    if settings.model == "linear":
        first = next(v for name, v in weights.items() if name.endswith("weight"))
        row = first[0] if first.shape[0] == 1 else first[k]
        # Pixel × weight: positive evidence votes for the prediction (for two classes: for the first class).
        evidence = image.reshape(784) * row
        if first.shape[0] == 1 and k == 1:
            evidence = -evidence
        result["evidence"] = encode_weights(evidence)
        result["evidence_kind"] = "pixel × weight"
    else:
        result["evidence"] = encode_weights(gradient_times_input(model, image, k, len(splits.classes)))
        result["evidence_kind"] = "gradient × input"
    return result


def gradient_times_input(model: Any, image: Any, k: int, n_classes: int) -> Any:
    """Each pixel × ∂(the predicted class's score)/∂pixel: for a linear model exactly pixel × weight; for
    an mlp or a cnn the same to first order around this image (positive: that pixel pushes towards class k).
    The score is the output for class k (for two classes the one output, negated for the second class)."""
    from ..tensor import Tensor

    x = Tensor(xp.asarray(image, dtype=xp.float32).reshape(1, 784), requires_grad=True)
    out = model(x)
    score = out.reshape(-1)[0] if n_classes == 2 else out[0, k]
    (-score if n_classes == 2 and k == 1 else score).backward()
    return (x.data * x.grad.data).reshape(784)
