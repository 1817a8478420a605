"""Train WGAN-GP (gradient penalty through double backprop) on MNIST.

    python examples/wgan_gp_mnist.py                  # MLP critic: the quick one on a CPU
    python examples/wgan_gp_mnist.py --critic conv    # DCGAN-shaped critic: double backprop
                                                      # through Conv2d

Leaves runs/wgan_gp_<critic>_mnist/ with samples/, loss_curve.png (w_dist and gp), metrics.csv
and checkpoint.npz; run it again to resume. Score it with
    python -m gans sample --checkpoint runs/wgan_gp_mlp_mnist/checkpoint.npz --out wgan_gp.npy
    python -m gans score wgan_gp.npy
(sampling into an existing file again needs --overwrite).
"""
import minigrad
from gans import cli
from gans.wgan_gp import WGANGP, Config
from minigrad.data import mnist_dataset

p = cli.script_parser(__doc__)
p.add_argument("--epochs", type=cli.positive_int, default=5)
p.add_argument("--critic", default="mlp", choices=["mlp", "conv"])
p.add_argument("--gp-lambda", type=cli.number, default=10.0)
p.add_argument("--d-steps", type=cli.positive_int, default=5,
               help="critic steps per generator step (the paper's n_critic)")
cli.add_run_options(p, None, "default runs/wgan_gp_<critic>_mnist")
args = p.parse_args()

minigrad.manual_seed(args.seed)
config = Config(critic=args.critic, gp_lambda=args.gp_lambda, d_steps=args.d_steps)
model = WGANGP(config)
out = args.out or f"runs/wgan_gp_{args.critic}_mnist"
cli.fit_script(model, mnist_dataset("train"), args, out)
if not args.dry_run:  # a dry run draws no loss curve
    print(f"samples: {out}/samples/  loss curve: {out}/loss_curve.png")
