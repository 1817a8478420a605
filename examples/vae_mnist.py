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
from gans.vae import VAE, Config, elbo
from minigrad.data import mnist_dataset

p = cli.script_parser(__doc__)
p.add_argument("--epochs", type=cli.positive_int, default=10)
p.add_argument("--latent-dim", type=cli.positive_int, default=20)
cli.add_run_options(p, "runs/vae_mnist")
args = p.parse_args()

minigrad.manual_seed(args.seed)
model = VAE(Config(latent_dim=args.latent_dim))
cli.fit_script(model, mnist_dataset("train"), args)
if not args.dry_run:
    test = mnist_dataset("test")
    r = elbo(model, test)
    print(f"test ELBO {r['elbo']:.1f} nats/image (recon {r['recon']:.1f}, KL {r['kl']:.1f})")
    rng = np.random.default_rng(args.seed)
    rows = [interpolate(model, *rng.standard_normal((2, args.latent_dim)), steps=10)
            for _ in range(5)]
    save_image_grid(minigrad.cat(rows), Path(args.out) / "interpolation.png", nrow=10)
