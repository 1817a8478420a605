"""Matrix product (batched, with broadcasting batch dimensions)."""
from __future__ import annotations

from minigrad import kernels
from minigrad.autograd.function import Function
from minigrad.ops.shape import IndexAdd


class MatMul(Function):
    """y = a @ b for a (..., N, K), b (..., K, M); ga = gy @ b^T, gb = a^T @ gy (summed over
    batch dimensions that were broadcast)"""

    def forward(self, a, b):
        return kernels.get("matmul", self.xp)(a, b)

    def backward(self, gy):
        a, b = self.inputs
        need_a, need_b = self.needs_input_grad
        ga = gb = None
        if need_a:
            ga = gy @ b.mT
            if ga.shape != a.shape:
                ga = ga.sum_to(a.shape)
        if need_b:
            gb = a.mT @ gy
            if gb.shape != b.shape:
                gb = gb.sum_to(b.shape)
        return ga, gb


class Einsum(Function):
    """y = einsum("s_1,...,s_n->s_out", x_1, ..., x_n), the subscripts explicit letters (the
    wrapper in functional.py expands '...' and the implicit output);
    gx_i = einsum("s_out,s_j (j != i)->s_i", gy, x_j ...): the contraction of gy with the other
    operands, broadcast along the letters only x_i has (summed away in y), written onto the
    diagonal where a letter repeats within s_i, summed where x_i had a size-1 broadcast dim."""

    def forward(self, *xs, subscripts, output):
        self.subscripts, self.output_subscripts = subscripts, output
        return self.xp.einsum(",".join(subscripts) + "->" + output, *xs, optimize=len(xs) > 1)

    def backward(self, gy):
        xs, subs = self.inputs, self.subscripts
        size = {}
        for s, x in zip(subs, xs):
            for c, n in zip(s, x.shape):
                size[c] = max(size.get(c, 1), n)
        grads = []
        for i, x in enumerate(xs):
            if not self.needs_input_grad[i]:
                grads.append(None)
                continue
            others = [j for j in range(len(xs)) if j != i]
            letters = "".join(dict.fromkeys(subs[i]))   # x_i's letters, each once
            seen = set(self.output_subscripts).union(*(subs[j] for j in others))
            kept = "".join(c for c in letters if c in seen)
            g = Einsum.apply(gy, *(xs[j] for j in others),
                             subscripts=(self.output_subscripts,) + tuple(subs[j] for j in others),
                             output=kept)
            if kept != letters:  # letters summed within x_i alone: gy is constant along them
                g = g.reshape(tuple(size[c] if c in seen else 1 for c in letters)).expand(
                    tuple(size[c] for c in letters))
            if letters != subs[i]:  # a repeated letter: x_i's diagonal, zero elsewhere
                index = []
                for c in subs[i]:
                    shape = [1] * len(letters)
                    shape[letters.index(c)] = size[c]
                    index.append(self.xp.arange(size[c]).reshape(shape))
                g = IndexAdd.apply(g, shape=tuple(size[c] for c in subs[i]), index=tuple(index))
            if g.shape != x.shape:  # size-1 dims that broadcast: x_i's summed, the others' spread
                both = tuple(a if b == 1 else b for a, b in zip(g.shape, x.shape))
                g = g.expand(both) if both != g.shape else g
                g = g.sum_to(x.shape) if both != x.shape else g
            grads.append(g)
        return tuple(grads)
