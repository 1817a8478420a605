"""The lectures' experiments, one module each, gathered in :mod:`gans.theory`:
``optimal_discriminator`` (1), ``bilinear_game`` (2), ``mode_collapse`` (3: the scoring of the
two published protocols) with ``toy_gan`` (the toy GAN it scores), ``vanishing_gradient`` (4);
``schedule`` holds the learning-rate helpers two of them share."""
