"""Train WGAN (weight clipping, RMSprop) on MNIST and watch the Wasserstein estimate.

    python examples/wgan_mnist.py                     # 5 epochs
    python examples/wgan_mnist.py --warmup-critic     # the reference code's 100-step critic bursts

Leaves runs/wgan_mnist/ with samples/, loss_curve.png (w_dist should fall as samples improve),
metrics.csv and checkpoint.npz; run it again to resume.
"""
import minigrad
from gans import cli
from gans.trainer import fit
from gans.wgan import WGAN, Config
from minigrad.data import DataLoader, mnist_dataset

p = cli.script_parser(__doc__)
p.add_argument("--epochs", type=cli.positive_int, default=5)
p.add_argument("--clip", type=cli.number, default=0.01, help="critic weights in [-clip, clip]")
p.add_argument("--d-steps", type=cli.positive_int, default=5,
               help="critic steps per generator step (the paper's n_critic)")
p.add_argument("--warmup-critic", action="store_true")
p.add_argument("--critic-batch-norm", action="store_true", help="the paper's DCGAN critic")
p.add_argument("--out", default="runs/wgan_mnist", type=cli.out_folder)
p.add_argument("--seed", type=cli.non_negative_int, default=0)
p.add_argument("--dry-run", action="store_true", help="two steps, to check the set-up")
args = p.parse_args()

minigrad.manual_seed(args.seed)
config = Config(clip=args.clip, d_steps=args.d_steps, warmup_critic=args.warmup_critic,
                critic_batch_norm=args.critic_batch_norm)
model = WGAN(config)
loader = DataLoader(mnist_dataset("train"), batch_size=config.batch_size, shuffle=True,
                    drop_last=True, seed=args.seed)
fit(model, loader, epochs=args.epochs, out_dir=args.out, dry_run=args.dry_run)
print(f"samples: {args.out}/samples/  loss curve: {args.out}/loss_curve.png")
