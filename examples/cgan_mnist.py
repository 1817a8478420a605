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


def main(model_name="cgan", doc=__doc__):
    p = cli.script_parser(doc)
    p.add_argument("--model", default=model_name, choices=["cgan", "acgan"])
    p.add_argument("--dataset", default="mnist", choices=["mnist", "fashion_mnist"])
    p.add_argument("--epochs", type=cli.positive_int, default=10)
    cli.add_run_options(p, None, "run folder (default: runs/MODEL_DATASET)")
    args = p.parse_args()

    minigrad.manual_seed(args.seed)
    model = gans.get_model(args.model)()
    out = args.out or f"runs/{args.model}_{args.dataset}"
    cli.fit_script(model, datasets.load(args.dataset), args, out)

    labels = np.repeat(np.arange(10), 10)  # row c: ten samples of class c
    save_image_grid(model.sample(100, labels), f"{out}/classes.png", nrow=10)
    print(f"samples: {out}/samples/  one row per class: {out}/classes.png")


if __name__ == "__main__":
    main()
