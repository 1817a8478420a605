"""Train AC-GAN on MNIST: the same script as the conditional GAN's, with --model acgan.

    python examples/acgan_mnist.py --epochs 5 [--dataset fashion_mnist]
"""
import runpy
import sys
from pathlib import Path

sys.argv[1:1] = ["--model", "acgan"]
runpy.run_path(str(Path(__file__).with_name("cgan_mnist.py")), run_name="__main__")
