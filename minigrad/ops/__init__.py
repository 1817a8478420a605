"""Primitive ops: each class is one forward (on arrays) and one backward (in Tensor ops).

Glossary of the names used in every backward:
    x, a, b    inputs;  y  the output
    gy         dL/dy, the gradient arriving from above (a Tensor)
    gx, ga, gb dL/dx, dL/da, dL/db, what backward returns
    ggx        a gradient of gx, met when differentiating a backward (double backprop)
Each op's docstring states its math, e.g. "y = tanh(x); gx = gy * (1 - y^2)".

Everything not here (softmax, losses, normalisation, ...) is composed from these in
minigrad/functional.py and minigrad/nn/functional.py, and is therefore differentiable to any
order with no extra code.

Adding an op takes three pieces, each in one place:
    1. a Function subclass here (forward on arrays, backward in Tensor ops, math in its docstring);
    2. a wrapper in minigrad/functional.py decorated with ``@op``, which makes it a Tensor method
       and, unless ``export=False``, ``minigrad.<name>``;
    3. an OpSpec in tests/op_specs.py (gradcheck, gradgradcheck, numpy and torch references).
A composite op (no backward of its own) needs only 2 and 3.
"""
