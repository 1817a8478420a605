"""Train the VAE of Kingma and Welling on MNIST; report the test ELBO, show samples and a walk.

    python examples/vae_mnist.py                      # 10 epochs, a few minutes on 2 cores

Leaves runs/vae_mnist/ with samples/ (decoder means from z ~ N(0, I)), loss_curve.png
(loss = recon + kl, nats per image), interpolation.png and checkpoint.npz.
"""
from pathlib import Path

import numpy as np

import minigrad
from gans import cli
from gans.common import save_image_grid
from gans.latent import interpolate
from gans.trainer import fit
from gans.vae import VAE, Config, elbo
from minigrad.data import DataLoader, mnist_dataset

p = cli.script_parser(__doc__)
p.add_argument("--epochs", type=cli.positive_int, default=10)
p.add_argument("--latent-dim", type=cli.positive_int, default=20)
p.add_argument("--out", default="runs/vae_mnist", type=cli.out_folder)
p.add_argument("--seed", type=cli.non_negative_int, default=0)
p.add_argument("--dry-run", action="store_true", help="two steps, to check the set-up")
args = p.parse_args()

minigrad.manual_seed(args.seed)
model = VAE(Config(latent_dim=args.latent_dim))
loader = DataLoader(mnist_dataset("train"), batch_size=model.config.batch_size, shuffle=True,
                    drop_last=True, seed=args.seed)
fit(model, loader, epochs=args.epochs, out_dir=args.out, dry_run=args.dry_run)
if not args.dry_run:
    test = mnist_dataset("test")
    r = elbo(model, test)
    print(f"test ELBO {r['elbo']:.1f} nats/image (recon {r['recon']:.1f}, KL {r['kl']:.1f})")
    rng = np.random.default_rng(args.seed)
    rows = [interpolate(model, *rng.standard_normal((2, args.latent_dim)), steps=10)
            for _ in range(5)]
    save_image_grid(minigrad.cat(rows), Path(args.out) / "interpolation.png", nrow=10)
