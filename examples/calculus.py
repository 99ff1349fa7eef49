"""The chapter's calculus demos: the gradient of a function, computed by backpropagation.

    python examples/calculus.py
"""

import sevensteps as ss


def f(x: ss.Tensor) -> ss.Tensor:
    return (x**2).sum()


def main() -> None:
    # f(x) = x² at x = 3: the slope is 2·3 = 6.
    x = ss.tensor(3.0, requires_grad=True)
    y = x**2
    y.backward()
    print(f"f(x) = x², x = {x.item():g}: f = {y.item():g}, df/dx = {x.grad.item():g}")

    # f(x) = Σ xᵢ² for x = [3, 4, 10]: each slope is 2·xᵢ.
    x = ss.tensor([3.0, 4.0, 10.0], requires_grad=True)
    y = f(x)
    y.backward()
    print(f"f(x) = sum(x²), x = {x.tolist()}: f = {y.item():g}, gradient = {x.grad.tolist()}")


if __name__ == "__main__":
    main()
