"""The vanishing gradient: minimax log(1 - D(G(z))) vs non-saturating -log D(G(z)).

    python examples/vanishing_gradient.py            # ~30 s on 2 cores

With s = D's logit on a fake, d/ds log(1 - sigmoid(s)) = -D(G(z)) while
d/ds -log sigmoid(s) = -(1 - D(G(z))): the same ds/dtheta_G reaches G, scaled by D(G(z)) for
the minimax loss and by 1 - D(G(z)) for the non-saturating one. When D confidently rejects the
fakes (D(G(z)) -> 0, early in training) the minimax gradient vanishes.

Left: a fixed logistic D whose offset is swept, so D(G(z)) runs from 1e-10 to ~0.9; the gradient
norms wrt G's parameters and G's outputs. Right: the Arjovsky-Bottou experiment, D trained
against a frozen bad G (real N(4, 0.5^2), fakes around 0), the norms as D gets stronger.

Writes runs/figures/vanishing_gradient.png and prints the norms. The figure tracked in the
repository is regenerated only by naming it:

    python examples/vanishing_gradient.py --out docs/img/vanishing_gradient.png
"""
from pathlib import Path

from gans import cli
from gans import theory as T
from gans.common import pyplot

plt = pyplot()

p = cli.script_parser(__doc__)
p.add_argument("--d-steps", type=cli.positive_int, default=2000,
               help="D steps in the right-hand experiment")
p.add_argument("--out", default="runs/figures/vanishing_gradient.png", type=cli.out_file,
               help="the picture (default: runs/figures/vanishing_gradient.png)")
args = p.parse_args()

sweep = T.vanishing_gradient_sweep()
train = T.strengthening_discriminator(steps=args.d_steps)

print("fixed D, offset swept:")
print(f"{'D(G(z))':>9s} {'|g| minimax':>12s} {'|g| non-sat':>12s} {'ratio':>9s}   (wrt G's params)")
for i in range(0, len(sweep["shift"]), 4):
    mm, ns = sweep["minimax_param"][i], sweep["non_saturating_param"][i]
    print(f"{sweep['d_g_z'][i]:9.2e} {mm:12.3e} {ns:12.3e} {mm / ns:9.2e}")
print("D trained against a frozen G:")
print(f"{'D step':>7s} {'D(G(z))':>9s} {'|g| minimax':>12s} {'|g| non-sat':>12s}")
for i in range(0, len(train["step"]), max(1, len(train["step"]) // 8)):
    print(f"{train['step'][i]:7d} {train['d_g_z'][i]:9.2e} {train['minimax_param'][i]:12.3e} "
          f"{train['non_saturating_param'][i]:12.3e}")

fig, axes = plt.subplots(1, 2, figsize=(12, 4.6))
ax = axes[0]
x = sweep["d_g_z"]
ax.loglog(x, sweep["minimax_param"], "C3-", lw=2, label="minimax  log(1 - D(G(z))): wrt θ_G")
ax.loglog(x, sweep["minimax_output"], "C3:", lw=2, label="minimax: wrt G(z) (per sample)")
ax.loglog(x, sweep["non_saturating_param"], "C0-", lw=2,
          label="non-saturating  -log D(G(z)): wrt θ_G")
ax.loglog(x, sweep["non_saturating_output"], "C0:", lw=2,
          label="non-saturating: wrt G(z) (per sample)")
ax.set_xlabel("mean D(G(z))   (D stronger to the left)")
ax.set_ylabel("gradient norm reaching G")
ax.set_title("fixed D = sigmoid(2(x - 3) + b), b swept")
ax.legend(fontsize=8, loc="lower right")
ax.grid(True, which="major", alpha=0.3)

ax = axes[1]
ax.semilogy(train["step"], train["minimax_param"], "C3-", lw=2, label="|∇θ_G| minimax")
ax.semilogy(train["step"], train["non_saturating_param"], "C0-", lw=2,
            label="|∇θ_G| non-saturating")
ax.semilogy(train["step"], train["d_g_z"], "k--", lw=1.5, label="mean D(G(z))")
ax.set_xlabel("D training step (G frozen)")
ax.set_title("as D learns to reject the fakes, the minimax gradient dies")
ax.legend(fontsize=8)
ax.grid(True, which="major", alpha=0.3)
fig.tight_layout()
Path(args.out).parent.mkdir(parents=True, exist_ok=True)
fig.savefig(args.out, dpi=80)
print(f"wrote {args.out}")
