"""Train InfoGAN on MNIST: a 10-way code that becomes the digit, two that become style.

    python examples/infogan_mnist.py                  # 5 epochs
    python examples/infogan_mnist.py --learn-variance # Q also predicts the codes' variance

The progress grids (runs/infogan_mnist/samples/) have one row per categorical value and sweep
c_1 along the columns. At the end it writes code grids for c_1 and c_2 and reports how well the
categorical code alone picks the digit (the paper: about 95%), using gans.metrics' classifier.
"""
from pathlib import Path

import minigrad
from gans import cli, metrics
from gans.common import save_image_grid
from gans.infogan import Config, InfoGAN, categorical_code_accuracy, code_latents
from minigrad.data import mnist_dataset

p = cli.script_parser(__doc__)
p.add_argument("--epochs", type=cli.positive_int, default=5)
p.add_argument("--lambda-cont", type=cli.number, default=0.1)
p.add_argument("--learn-variance", action="store_true", help="Q predicts log sigma^2 too")
cli.add_run_options(p, "runs/infogan_mnist")
args = p.parse_args()

minigrad.manual_seed(args.seed)
model = InfoGAN(Config(lambda_cont=args.lambda_cont, learn_variance=args.learn_variance))
cli.fit_script(model, mnist_dataset("train"), args)
if not args.dry_run:
    for i in range(model.config.n_continuous):
        z = code_latents(model, continuous_index=i, n=10)
        save_image_grid(model.sample(z.shape[0], z=z), Path(args.out) / f"code_c{i + 1}.png", 10)
    clf = metrics.get_classifier("mnist")
    result = categorical_code_accuracy(
        model, lambda x: metrics.features_and_probs(clf, x)[1].argmax(1))
    print(f"categorical code accuracy {result['accuracy']:.1%}, code -> digit "
          f"{result['mapping']} ({result['distinct']} distinct digits)")
