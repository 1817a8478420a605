"""Train DCGAN (strided convolutions, BatchNorm, Adam 2e-4 / beta1 0.5) on MNIST, then walk its
latent space.

    python examples/dcgan_mnist.py --epochs 5

Leaves runs/dcgan_mnist/ (samples/, loss_curve.png, metrics.csv, checkpoint.npz) plus
interpolation.png (rows: slerp between two random codes) and arithmetic.png
(mean(z_a) - mean(z_b) + mean(z_c) for three random groups of codes).
"""
import numpy as np

import minigrad
from gans import cli
from gans.common import save_image_grid
from gans.dcgan import DCGAN, Config
from gans.latent import interpolate, vector_arithmetic
from minigrad.data import mnist_dataset

p = cli.script_parser(__doc__)
p.add_argument("--epochs", type=cli.positive_int, default=5)
cli.add_run_options(p, "runs/dcgan_mnist")
args = p.parse_args()

minigrad.manual_seed(args.seed)
model = DCGAN(Config())
cli.fit_script(model, mnist_dataset("train"), args)

rng = np.random.default_rng(args.seed)
rows = [interpolate(model, rng.standard_normal(100), rng.standard_normal(100), steps=8).numpy()
        for _ in range(4)]
save_image_grid(np.concatenate(rows), f"{args.out}/interpolation.png", nrow=8)
groups = [rng.standard_normal((3, 100)) for _ in range(3)]
parts = [model.sample(3, z=minigrad.tensor(g.astype(np.float32))).numpy() for g in groups]
result = vector_arithmetic(model, *groups).numpy()
save_image_grid(np.concatenate(parts + [result]), f"{args.out}/arithmetic.png", nrow=3)
print(f"samples: {args.out}/samples/  latent walks: {args.out}/interpolation.png, "
      f"{args.out}/arithmetic.png")
