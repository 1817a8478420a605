"""The theory, made visible: four small experiments behind the lecture's claims about GANs.

Everything here runs on minigrad in seconds to minutes on a laptop CPU; ``examples/`` turns each
part into a picture and ``tests/test_theory.py`` checks each claim. Each lecture is one module of
:mod:`gans.lectures`, whose docstring states the claim and its math:

1. the optimal discriminator D* = p_data / (p_data + p_g) and the value -log 4
   (``gans.lectures.optimal_discriminator``);
2. non-convergence of simultaneous gradient descent-ascent on the bilinear game, and the
   methods that converge (``gans.lectures.bilinear_game``);
3. mode collapse on the 8-Gaussian ring and the 25-Gaussian grid under VEEGAN's and PacGAN's
   protocols (``gans.lectures.mode_collapse``: the scoring), with the toy GAN it scores
   (``gans.lectures.toy_gan``; the sweep and its report: ``gans.reports.mode_collapse``);
4. the vanishing gradient of the minimax loss (``gans.lectures.vanishing_gradient``).

This module gathers them, so that ``from gans import theory`` and ``theory.X`` reach every one
of their names.
"""

from gans.lectures.schedule import linear_decay, set_lr  # noqa: F401
from gans.lectures.optimal_discriminator import (  # noqa: F401
    _softplus, bulk_interval, Discriminator1D, discriminator_logits, discriminator_step,
    Gaussian1D, jensen_shannon, LOG4, optimal_discriminator, optimal_logit, P_DATA, P_G,
    quadrature_grid, train_discriminator, value_of_game)
from gans.lectures.bilinear_game import (  # noqa: F401
    bilinear, game_gradients, GAME_METHODS, play_bilinear)
from gans.lectures.mode_collapse import (  # noqa: F401
    HQ_STDS, mode_counts, mode_metrics, N_EVAL, protocol_metrics, PROTOCOLS, reverse_kl,
    TOY_DATASETS)
from gans.lectures.toy_gan import (  # noqa: F401
    toy_codes, toy_discriminator, toy_generator, TOY_METHODS, ToyGAN, ToyGANConfig,
    ToyGANResult, ToyMixture, train_toy_gan)
from gans.lectures.vanishing_gradient import (  # noqa: F401
    generator_gradient_norms, strengthening_discriminator, ToyGenerator1D,
    vanishing_gradient_sweep)
