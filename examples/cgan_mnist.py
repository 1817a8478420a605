"""Train the conditional GAN (labels into G and D) on MNIST or Fashion-MNIST, then draw a grid
where row c holds class c.

    python examples/cgan_mnist.py --epochs 10
    python examples/cgan_mnist.py --dataset fashion_mnist --model acgan

--model acgan trains AC-GAN instead (D predicts the class; G is rewarded when it is right).
Leaves runs/<model>_<dataset>/ (samples/, loss_curve.png, metrics.csv, checkpoint.npz) and
classes.png.
"""
import numpy as np

import gans
import minigrad
from gans import cli, datasets
from gans.common import save_image_grid
from gans.trainer import fit
from minigrad.data import DataLoader

p = cli.script_parser(__doc__)
p.add_argument("--model", default="cgan", choices=["cgan", "acgan"])
p.add_argument("--dataset", default="mnist", choices=["mnist", "fashion_mnist"])
p.add_argument("--epochs", type=cli.positive_int, default=10)
p.add_argument("--out", default=None, type=cli.out_folder,
               help="run folder (default: runs/MODEL_DATASET)")
p.add_argument("--seed", type=cli.non_negative_int, default=0)
p.add_argument("--dry-run", action="store_true", help="two steps, to check the set-up")
args = p.parse_args()

minigrad.manual_seed(args.seed)
model = gans.get_model(args.model)()
loader = DataLoader(datasets.load(args.dataset), batch_size=model.config.batch_size,
                    shuffle=True, drop_last=True, seed=args.seed)
out = args.out or f"runs/{args.model}_{args.dataset}"
fit(model, loader, epochs=args.epochs, out_dir=out, dry_run=args.dry_run)

labels = np.repeat(np.arange(10), 10)  # row c: ten samples of class c
save_image_grid(model.sample(100, labels), f"{out}/classes.png", nrow=10)
print(f"samples: {out}/samples/  one row per class: {out}/classes.png")
