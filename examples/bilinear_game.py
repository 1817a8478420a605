"""Non-convergence: gradient descent-ascent on min_x max_y x*y, with minigrad's gradients.

    python examples/bilinear_game.py            # a second or two

The only equilibrium is (0, 0). Simultaneous gradient descent-ascent (what training both GAN
players on the same batch does) spirals *out*: each step multiplies |(x, y)| by
sqrt(1 + lr^2). Alternating updates orbit forever. Extragradient (step with the gradient at a
look-ahead point) and optimistic gradient descent (2 g_t - g_{t-1}) spiral *in*.
Every gradient is df/dx, df/dy from minigrad.grad on f = x * y.

Writes runs/figures/bilinear_game.png and prints |(x, y)| at the start and the end of each
run. The figure tracked in the repository is regenerated only by naming it:

    python examples/bilinear_game.py --out docs/img/bilinear_game.png
"""
from pathlib import Path

import numpy as np

from gans import cli
from gans import theory as T
from gans.common import pyplot

plt = pyplot()

p = cli.script_parser(__doc__)
p.add_argument("--steps", type=cli.positive_int, default=300)
p.add_argument("--lr", type=cli.number, default=0.1)
p.add_argument("--out", default="runs/figures/bilinear_game.png", type=cli.out_file,
               help="the picture (default: runs/figures/bilinear_game.png)")
args = p.parse_args()

paths = {m: T.play_bilinear(m, steps=args.steps, lr=args.lr, start=(1.0, 1.0))
         for m in T.GAME_METHODS}
rates = {"simultaneous": np.sqrt(1 + args.lr ** 2), "extragradient":
         np.sqrt(1 - args.lr ** 2 + args.lr ** 4)}
print(f"min_x max_y x*y from (1, 1), lr = {args.lr}, {args.steps} steps")
print(f"{'method':14s} {'|z_0|':>7s} {'|z_T|':>9s} {'max |z_t|':>9s}")
for m, path in paths.items():
    r = np.linalg.norm(path, axis=1)
    extra = f"   (theory: x{rates[m]:.5f} per step -> {r[0] * rates[m] ** args.steps:.4f})" \
        if m in rates else ""
    print(f"{m:14s} {r[0]:7.4f} {r[-1]:9.4f} {r.max():9.4f}{extra}")

fig, axes = plt.subplots(1, 2, figsize=(11, 4.8))
ax = axes[0]
colors = {"simultaneous": "C3", "alternating": "C7", "extragradient": "C0", "optimistic": "C2"}
styles = {"simultaneous": "-", "alternating": "-", "extragradient": "--", "optimistic": ":"}
for m, path in paths.items():
    ax.plot(path[:, 0], path[:, 1], styles[m], color=colors[m], lw=1.4, label=m)
ax.plot([1], [1], "ko", ms=5, label="start (1, 1)")
ax.plot([0], [0], "k*", ms=12, label="equilibrium (0, 0)")
ax.set_aspect("equal")
ax.set_xlabel("x (minimises)")
ax.set_ylabel("y (maximises)")
ax.set_title(f"min_x max_y xy: gradient descent-ascent, lr {args.lr}")
ax.legend(fontsize=7, loc="upper left", framealpha=0.9)
ax = axes[1]
for m, path in paths.items():
    ax.semilogy(np.linalg.norm(path, axis=1), styles[m], color=colors[m], lw=1.6, label=m)
ax.set_xlabel("step")
ax.set_ylabel("distance to the equilibrium |(x, y)|")
ax.set_title("simultaneous diverges, alternating cycles,\nextragradient / optimistic converge")
ax.legend(fontsize=8)
fig.tight_layout()
Path(args.out).parent.mkdir(parents=True, exist_ok=True)
fig.savefig(args.out, dpi=80)
print(f"wrote {args.out}")
