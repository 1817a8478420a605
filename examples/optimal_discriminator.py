"""The optimal discriminator D* = p_data / (p_data + p_g), and the value of the game, -log 4.

    python examples/optimal_discriminator.py            # ~1 min on 2 cores

p_data = N(4, 0.5^2) (minigrad.data.gaussian_1d's default) and a *frozen* generator
p_g = N(2, 1). A small MLP discriminator is trained on fresh samples of both until it converges;
it should then be the closed-form D*, and its value V(D, G) should be -log 4 + 2 JSD(p_data||p_g).
With p_g = p_data, D* = 1/2 everywhere and V = -log 4 = -1.386.

Writes runs/figures/optimal_discriminator.png and prints the numbers. The figure tracked in the
repository is regenerated only by naming it:

    python examples/optimal_discriminator.py --out docs/img/optimal_discriminator.png
"""
from pathlib import Path

import numpy as np

from gans import cli
from gans import theory as T
from gans.common import pyplot

plt = pyplot()

p = cli.script_parser(__doc__)
p.add_argument("--steps", type=cli.positive_int, default=3000,
               help="D training steps (Adam, batch 512)")
p.add_argument("--lr", type=cli.number, default=3e-3)
p.add_argument("--seed", type=cli.non_negative_int, default=0)
p.add_argument("--out", default="runs/figures/optimal_discriminator.png", type=cli.out_file,
               help="the picture (default: runs/figures/optimal_discriminator.png)")
args = p.parse_args()

# --- 1. p_g != p_data: D -> D* ---------------------------------------------------------------
D, losses = T.train_discriminator(T.P_DATA, T.P_G, steps=args.steps, lr=args.lr, seed=args.seed)
lo, hi = T.bulk_interval()
x_bulk = np.linspace(lo, hi, 401)
d_bulk = 1 / (1 + np.exp(-T.discriminator_logits(D, x_bulk)))
err = np.abs(d_bulk - T.optimal_discriminator(x_bulk))
jsd = T.jensen_shannon()
v_star = T.value_of_game(T.optimal_logit)
v_trained = T.value_of_game(lambda x: T.discriminator_logits(D, x))

# --- 2. p_g = p_data: D -> 1/2 and V -> -log 4 --------------------------------------------------
D_eq, losses_eq = T.train_discriminator(T.P_DATA, T.P_DATA, steps=args.steps, lr=args.lr,
                                        seed=args.seed)
v_eq = T.value_of_game(lambda x: T.discriminator_logits(D_eq, x), T.P_DATA, T.P_DATA)
x_eq = np.linspace(T.P_DATA.mean - 2.5 * T.P_DATA.std, T.P_DATA.mean + 2.5 * T.P_DATA.std, 201)
d_eq = 1 / (1 + np.exp(-T.discriminator_logits(D_eq, x_eq)))

print(f"p_data = N({T.P_DATA.mean}, {T.P_DATA.std}^2), p_g = N({T.P_G.mean}, {T.P_G.std}^2); "
      f"D trained {args.steps} steps")
print(f"max |D - D*| on the bulk [{lo:.2f}, {hi:.2f}] (98% of the mixture): {err.max():.4f}")
print(f"JSD(p_data || p_g) = {jsd:.4f} nats")
print(f"V(D*, G) by quadrature = {v_star:.4f};  -log 4 + 2 JSD = {-T.LOG4 + 2 * jsd:.4f};  "
      f"V(trained D, G) = {v_trained:.4f}")
print(f"p_g = p_data: V(trained D, G) = {v_eq:.5f}  vs  -log 4 = {-T.LOG4:.5f}  "
      f"(gap {v_eq + T.LOG4:+.2e}); D ranges over [{d_eq.min():.3f}, {d_eq.max():.3f}]")

# --- the picture ---------------------------------------------------------------------------
fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
x = np.linspace(-1.5, 7.5, 600)
ax = axes[0]
ax.fill_between(x, T.P_DATA.pdf(x), alpha=0.25, color="C0", label="$p_{data}$ = N(4, 0.5²)")
ax.fill_between(x, T.P_G.pdf(x), alpha=0.25, color="C3", label="$p_g$ = N(2, 1)")
ax.plot(x, T.optimal_discriminator(x), "k-", lw=2, label="$D^*$ = $p_{data}/(p_{data}+p_g)$")
ax.plot(x, 1 / (1 + np.exp(-T.discriminator_logits(D, x))), "C1--", lw=2,
        label="trained D (MLP)")
ax.axvspan(lo, hi, color="0.9", zorder=-5, label="bulk (98% of the mixture)")
ax.set_title(f"D -> D*: max |D - D*| on the bulk = {err.max():.3f}")
ax.set_xlabel("x")
ax.legend(fontsize=8, loc="upper left")

ax = axes[1]
ax.plot(x_bulk, err, "C1")
ax.set_title("|D - D*| on the bulk")
ax.set_xlabel("x")
ax.set_yscale("log")

ax = axes[2]
k = max(1, args.steps // 100)
smooth = lambda a: np.convolve(a, np.ones(k) / k, mode="valid")  # noqa: E731
ax.plot(-smooth(losses), "C1", label="V(D, G) on the batch, p_g = N(2, 1)")
ax.axhline(v_star, color="C1", ls=":", label=f"-log 4 + 2 JSD = {v_star:.3f}")
ax.plot(-smooth(losses_eq), "C0", label="V(D, G) on the batch, p_g = p_data")
ax.axhline(-T.LOG4, color="C0", ls=":", label=f"-log 4 = {-T.LOG4:.3f}")
ax.set_xlabel("D step")
ax.set_title(f"value of the game (p_g = p_data: V = {v_eq:.4f})")
ax.legend(fontsize=8)
fig.tight_layout()
Path(args.out).parent.mkdir(parents=True, exist_ok=True)
fig.savefig(args.out, dpi=80)
print(f"wrote {args.out}")
