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
from gans.trainer import fit
from minigrad.data import DataLoader, mnist_dataset

p = cli.script_parser(__doc__)
p.add_argument("--epochs", type=cli.positive_int, default=5)
p.add_argument("--out", default="runs/dcgan_mnist", type=cli.out_folder)
p.add_argument("--seed", type=cli.non_negative_int, default=0)
p.add_argument("--dry-run", action="store_true", help="two steps, to check the set-up")
args = p.parse_args()

minigrad.manual_seed(args.seed)
model = DCGAN(Config())
loader = DataLoader(mnist_dataset("train"), batch_size=model.config.batch_size, shuffle=True,
                    drop_last=True, seed=args.seed)
fit(model, loader, epochs=args.epochs, out_dir=args.out, dry_run=args.dry_run)

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
