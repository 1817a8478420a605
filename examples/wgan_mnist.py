"""Train WGAN (weight clipping, RMSprop) on MNIST and watch the Wasserstein estimate.

    python examples/wgan_mnist.py                     # 5 epochs
    python examples/wgan_mnist.py --warmup-critic     # the reference code's 100-step critic bursts

Leaves runs/wgan_mnist/ with samples/, loss_curve.png (w_dist should fall as samples improve),
metrics.csv and checkpoint.npz; run it again to resume.
"""
import minigrad
from gans import cli
from gans.wgan import WGAN, Config
from minigrad.data import mnist_dataset

p = cli.script_parser(__doc__)
p.add_argument("--epochs", type=cli.positive_int, default=5)
p.add_argument("--clip", type=cli.number, default=0.01, help="critic weights in [-clip, clip]")
p.add_argument("--d-steps", type=cli.positive_int, default=5,
               help="critic steps per generator step (the paper's n_critic)")
p.add_argument("--warmup-critic", action="store_true")
p.add_argument("--critic-batch-norm", action="store_true", help="the paper's DCGAN critic")
cli.add_run_options(p, "runs/wgan_mnist")
args = p.parse_args()

minigrad.manual_seed(args.seed)
config = Config(clip=args.clip, d_steps=args.d_steps, warmup_critic=args.warmup_critic,
                critic_batch_norm=args.critic_batch_norm)
model = WGAN(config)
cli.fit_script(model, mnist_dataset("train"), args)
if not args.dry_run:  # a dry run draws no loss curve
    print(f"samples: {args.out}/samples/  loss curve: {args.out}/loss_curve.png")
