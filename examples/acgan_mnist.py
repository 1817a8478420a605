"""Train AC-GAN on MNIST or Fashion-MNIST (D also predicts the class; G is rewarded when it is
right), then draw a grid where row c holds class c: the conditional GAN's script
(cgan_mnist.py) with --model acgan as its default.

    python examples/acgan_mnist.py --epochs 5 [--dataset fashion_mnist]

Leaves runs/acgan_<dataset>/ (samples/, loss_curve.png, metrics.csv, checkpoint.npz) and
classes.png.
"""
from cgan_mnist import main

if __name__ == "__main__":
    main("acgan", __doc__)
