"""Train the vanilla GAN of the lecture on MNIST: the first thing to run.

    python examples/vanilla_gan_mnist.py                  # 30 epochs (18000 steps), ~5 min, 2 cores
    python examples/vanilla_gan_mnist.py --epochs 60      # train further (resumes the same run)
    python examples/vanilla_gan_mnist.py --lecture --out runs/vanilla_lecture  # the lecture's code

Goodfellow et al.'s game with the MLPs of the lecture (gans/vanilla.py): the non-saturating G
loss (``--loss minimax`` for the objective as written), no convolutions, no labels. The default
recipe adds what measurably helped in a 5-minute budget (docs/vanilla_recipe.md has the table):
Adam with beta1 = 0.5, BatchNorm in G, samples drawn from a moving average of G's weights, and
the lecture's MLPs a quarter as wide, whose step takes about a third of the time.
``--lecture`` trains the lecture's recipe exactly (its MLPs, Adam's default betas, no BatchNorm,
no average).

Leaves runs/vanilla_mnist/ with sample grids (samples/), loss_curve.png, metrics.csv and
checkpoint.npz. Run it again and it resumes where it stopped (a finished run is left alone; a
larger --epochs trains it further; --restart starts over). Ctrl-C saves a checkpoint first.
"""
import minigrad
from gans import cli
from gans.trainer import fit
from gans.vanilla import LECTURE, Config, VanillaGAN
from minigrad.data import DataLoader, mnist_dataset

# 18000 steps of batch 100: what fits in 5 minutes on two idle cores (a 2-core AMD EPYC). There
# a step of the default quarter-width MLPs takes 14-16 ms at two threads, epoch-end grids and
# checkpoints included (one of the lecture-size MLPs 46-52 ms: 6000 steps).
EPOCHS = 30


def main(argv=None):
    p = cli.script_parser(__doc__)
    p.add_argument("--epochs", type=cli.positive_int, default=EPOCHS)
    p.add_argument("--loss", default="non_saturating", choices=["non_saturating", "minimax"])
    p.add_argument("--d-steps", type=cli.positive_int, default=1,
                   help="D steps per G step (the k of Algorithm 1)")
    p.add_argument("--lecture", action="store_true",
                   help="the lecture's recipe: its MLPs, Adam betas (0.9, 0.999), no BatchNorm, "
                        "no average")
    p.add_argument("--out", default="runs/vanilla_mnist", type=cli.out_folder)
    p.add_argument("--seed", type=cli.non_negative_int, default=0)
    p.add_argument("--max-steps", type=cli.positive_int, default=None,
                   help="stop after this many D steps (a larger value trains a finished run "
                        "further, as a larger --epochs does)")
    p.add_argument("--restart", action="store_true", help="start over even if --out has a run")
    p.add_argument("--dry-run", action="store_true", help="two steps, to check the set-up")
    args = p.parse_args(argv)

    minigrad.manual_seed(args.seed)
    config = Config(loss=args.loss, d_steps=args.d_steps, **(LECTURE if args.lecture else {}))
    model = VanillaGAN(config)
    data = mnist_dataset("train")  # 60000 real MNIST digits, (N, 1, 28, 28) in [-1, 1]
    loader = DataLoader(data, batch_size=config.batch_size, shuffle=True, drop_last=True,
                        seed=args.seed)
    fit(model, loader, epochs=args.epochs, out_dir=args.out, dry_run=args.dry_run,
        max_steps=args.max_steps, resume=not args.restart,
        record={"dataset": "mnist", "seed": args.seed})  # a resumed run keeps its seed
    if not args.dry_run:  # a dry run draws no loss curve
        print(f"samples: {args.out}/samples/  loss curve: {args.out}/loss_curve.png")


if __name__ == "__main__":
    raise SystemExit(cli.run(main))
