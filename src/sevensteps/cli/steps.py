"""``sevensteps steps``: one walk through the seven steps on real digits, printing what each step did."""

from __future__ import annotations

import argparse
from typing import Any

from .options import UsageError, add_one_batch_options, positive_float


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("steps", help="walk once through the seven steps, with real numbers",
                                   description="One pass through init, predict, loss, gradient, step, repeat "
                                   "and stop on real digits, printing what each step did.")
    add_one_batch_options(parser, "images per batch", "random seed for weights and shuffling")
    parser.add_argument("--lr", type=positive_float, default=1.0, help="learning rate (default 1.0)")
    parser.set_defaults(run=run)


def numbers(values: Any, digits: int = 4) -> str:
    return "[" + ", ".join(f"{float(v):.{digits}f}" for v in values) + "]"


def run(args: argparse.Namespace) -> int:
    from ..backend import xp
    from ..digits import digit_learner
    from ..metrics import decide
    from ..models import first_layer
    from ..runs import Settings
    from .output import data_line, load_data, percent

    splits = load_data(args)
    if len(splits.classes) != 2:
        raise UsageError("steps walks through the seed's linear model with one output: choose two --digits")
    learner = digit_learner(splits, Settings("linear", lr=args.lr, batch_size=args.batch_size, seed=args.seed),
                            quiet=True)
    first, second = splits.class_names()
    print(data_line(splits))
    learner.init()
    layer = first_layer(learner.model)
    weight, bias = layer.weight, layer.bias
    centre = [14 * 28 + c for c in range(12, 17)]  # five pixels across the middle row
    print(f"\n1. init: {weight.numel()} random weights (one per pixel) and 1 bias, seed {args.seed}.")
    print(f"   weights of five pixels in the middle row: {numbers(weight.data[0, centre])}; bias {bias.item():.4f}")
    valid_loss, valid_acc = learner.validate()
    print(f"   untrained, the model is a coin toss: validation accuracy {percent(valid_acc)}, loss {valid_loss:.4f}")

    batches = iter(learner.dls.train)
    xb, yb = next(batches)
    preds = learner.predict(xb)
    labels = [first if t else second for t in yb.data[:5, 0]]
    print(f"\n2. predict: a score for each of the {len(xb)} images of a shuffled batch: pixels · weights + bias.")
    print(f"   Above 0 means '{first}', below 0 '{second}'. First scores: {numbers(preds.data[:5, 0], 3)}")
    print(f"   their labels: {labels}; correct in this batch: "
          f"{percent(float((decide(preds) == yb.data[:, 0]).mean()))}")

    loss = learner.loss(preds, yb)
    print(f"\n3. loss ({learner.loss_name}): sigmoid squashes each score into (0, 1); the loss is the average distance "
          f"from the right answer (1 for '{first}', 0 for '{second}'): {loss.item():.4f}")

    learner.gradient()
    grad = weight.grad.data[0]
    biggest = xp.argsort(-xp.abs(grad))[:5]
    print(f"\n4. gradient: backpropagation gives d(loss)/d(weight) for all {grad.size + 1} weights at once.")
    print(f"   size (L2 norm) {float(xp.sqrt((grad * grad).sum())):.4f}; bias gradient {bias.grad.item():.4f}; "
          f"{int((grad == 0).sum())} weights get exactly 0 (pixels that are blank in every image of the batch)")
    print(f"   largest gradients, at pixels (row, column) {[divmod(int(i), 28) for i in biggest]}: "
          f"{numbers(grad[biggest])}")

    before = weight.data[0, biggest].copy()
    learner.step()
    after_loss = learner.loss_func(learner.model(xb), yb).item()
    print(f"\n5. step: weight <- weight - lr × gradient, with lr {args.lr:g}.")
    print(f"   those weights: {numbers(before)} -> {numbers(weight.data[0, biggest])}")
    print(f"   the same batch's loss: {loss.item():.4f} -> {after_loss:.4f}")

    losses = [learner.one_batch(xb, yb) for xb, yb in batches]
    valid_loss, valid_acc = learner.validate()
    if losses:
        print(f"\n6. repeat: steps 2-5 for the other {len(losses)} batches of the epoch (loss per batch "
              f"{numbers(losses, 3)}); validation accuracy after one epoch: {percent(valid_acc)}")
    else:
        print(f"\n6. repeat: the batch held the whole epoch; validation accuracy after it: {percent(valid_acc)}")
    print("\n7. stop: after a number of epochs, when validation accuracy stops improving, or when time runs out.")
    print("   Run 'sevensteps train' to repeat for 20 epochs and compare with the pixel-similarity baseline.")
    return 0
