"""Train the vanilla GAN of the lecture on MNIST: the first thing to run.

    python examples/vanilla_gan_mnist.py                  # 5 epochs, about 5 min on 2 cores
    python examples/vanilla_gan_mnist.py --epochs 30 --loss minimax

Leaves runs/vanilla_mnist/ with sample grids (samples/), loss_curve.png, metrics.csv and
checkpoint.npz; run it again to resume from the checkpoint.
"""
import argparse

import minigrad
from gans.trainer import fit
from gans.vanilla import Config, VanillaGAN
from minigrad.data import DataLoader, mnist_dataset

p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
p.add_argument("--epochs", type=int, default=5)
p.add_argument("--loss", default="non_saturating", choices=["non_saturating", "minimax"])
p.add_argument("--k", type=int, default=1, help="D steps per G step")
p.add_argument("--out", default="runs/vanilla_mnist")
p.add_argument("--seed", type=int, default=0)
p.add_argument("--dry-run", action="store_true", help="two steps, to check the set-up")
args = p.parse_args()

minigrad.manual_seed(args.seed)
config = Config(loss=args.loss, k=args.k)
model = VanillaGAN(config)
data = mnist_dataset("train")  # 60000 real MNIST digits, (N, 1, 28, 28) in [-1, 1]
loader = DataLoader(data, batch_size=config.batch_size, shuffle=True, drop_last=True,
                    seed=args.seed)
fit(model, loader, epochs=args.epochs, out_dir=args.out, dry_run=args.dry_run)
print(f"samples: {args.out}/samples/  loss curve: {args.out}/loss_curve.png")
