"""The theory, made visible: four small experiments behind the lecture's claims about GANs.

Everything here runs on minigrad in seconds to minutes on a laptop CPU; ``examples/`` turns each
part into a picture and ``tests/test_theory.py`` checks each claim.

1. **The optimal discriminator.** For a fixed generator distribution p_g, the D that maximises
       V(D, G) = E_{x~p_data}[log D(x)] + E_{x~p_g}[log(1 - D(x))]
   is, pointwise (maximise  a log D + b log(1 - D)  over D in (0, 1): D = a / (a + b)),
       D*(x) = p_data(x) / (p_data(x) + p_g(x)),
   and plugging it back in,
       V(D*, G) = -log 4 + 2 JSD(p_data || p_g),
   so the generator's problem is to minimise the Jensen-Shannon divergence, whose minimum
   (JSD = 0 at p_g = p_data, where D* = 1/2 everywhere) gives the value of the game, -log 4.
   Here: 1-D Gaussians, a small MLP trained on samples, compared with the closed forms.

2. **Non-convergence.** Simultaneous gradient descent-ascent on the bilinear game
   min_x max_y f(x, y) = x y spirals *away* from the unique equilibrium (0, 0): the update is
   z <- (I - eta A) z with A a 90-degree rotation, so |z| grows by sqrt(1 + eta^2) every step.
   Extragradient and optimistic gradient descent look one step ahead and spiral in.

3. **Mode collapse.** On the 8-Gaussian ring and the 25-Gaussian grid, count the modes a GAN
   captures, the fraction of its samples that are of high quality and (PacGAN's protocol) the
   reverse KL divergence of its distribution over the modes to the uniform one, under VEEGAN's
   and PacGAN's protocols (``protocol_metrics``), for the vanilla (non-saturating) GAN, PacGAN
   (packing), WGAN-GP, SNGAN (spectral norm and hinge loss) and the best recipe found here (k = 2
   D steps and BatchNorm in G); ten seeds each in docs/mode_collapse.md. With Algorithm 1's
   k = 1 the vanilla GAN collapses (0-2 modes, hopping between them). The toy model
   (``ToyGAN``) is written to the protocol of :mod:`gans.protocol`, with the losses of
   :mod:`gans.losses`, and trained by :func:`gans.trainer.fit`, like every GAN of the zoo.

4. **The vanishing gradient.** With s the logit D gives a fake, D(G(z)) = sigmoid(s) and
       d/ds  log(1 - sigmoid(s)) = -sigmoid(s)          (minimax loss:  -> 0 as D(G(z)) -> 0)
       d/ds -log sigmoid(s)      = -(1 - sigmoid(s))    (non-saturating: -> -1)
   Both losses send the same ds/dtheta_G back to G, scaled by D(G(z)) and 1 - D(G(z)): when D
   confidently rejects the fakes the minimax gradient vanishes, the non-saturating one does not.

The lectures live in :mod:`gans.lectures`, one module each (``optimal_discriminator``,
``bilinear_game``, ``mode_collapse`` with its pure scoring functions, ``vanishing_gradient``),
the toy GAN of part 3 in ``gans.lectures.toy_gan``; this module gathers them, so that
``from gans import theory`` and ``theory.X`` reach every one of their names.
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
