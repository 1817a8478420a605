"""The networks of the scoring classifier (gans/classifier.py trains, caches and uses them) and
the augmentations their training applies.

:class:`Classifier` (MNIST-like grey images, ~0.43 M parameters) and :class:`ColourClassifier`
(32x32 colour images, ~0.29 M parameters); ``embed(x)`` is the feature space of FID, KID,
precision/recall and density/coverage, ``forward(x)`` the logits.
"""
from __future__ import annotations

import numpy as np

import minigrad
from minigrad import nn
from minigrad.nn import functional as F

N_CLASSES = 10


# ------------------------------------------------------------------------------ the network
class Classifier(nn.Module):
    """A small CNN: conv3x3(1->w) - ReLU - conv3x3/2(w->2w) - ReLU - conv3x3/2(2w->4w) - ReLU -
    Linear(4w * (s/4)^2, hidden) - ReLU - Dropout - Linear(hidden, n_classes).

    ``embed(x)`` is the ReLU'd ``hidden``-d penultimate activation (the FID feature space),
    ``forward(x)`` the logits. ``image_size`` only sets the size of the first Linear (28 for
    MNIST; the tests use 8 for scikit-learn's 8x8 digits).
    """

    def __init__(self, n_classes: int = N_CLASSES, width: int = 16, hidden: int = 128,
                 dropout: float = 0.3, image_size: int = 28, in_channels: int = 1):
        super().__init__()
        self.config = dict(n_classes=n_classes, width=width, hidden=hidden, dropout=dropout,
                           image_size=image_size, in_channels=in_channels)
        self.conv1 = nn.Conv2d(in_channels, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, 2 * width, 3, stride=2, padding=1)
        self.conv3 = nn.Conv2d(2 * width, 4 * width, 3, stride=2, padding=1)
        side = (image_size + 1) // 2
        side = (side + 1) // 2
        self.fc1 = nn.Linear(4 * width * side * side, hidden)
        self.drop = nn.Dropout(dropout)
        self.fc2 = nn.Linear(hidden, n_classes)

    def embed(self, x):
        h = F.relu(self.conv1(x))
        h = F.relu(self.conv2(h))
        h = F.relu(self.conv3(h))
        return F.relu(self.fc1(h.reshape(h.shape[0], -1)))

    def head(self, features):
        return self.fc2(self.drop(features))

    def forward(self, x):
        return self.head(self.embed(x))


class ColourClassifier(nn.Module):
    """A small VGG-like CNN for 32x32 colour images, three blocks of

        conv3x3(c_in -> w) - maxpool 2x2 - BatchNorm - ReLU - conv3x3(w -> w) - BatchNorm - ReLU

    (the block of Keller Jordan's airbench: the first conv before the pooling, the second at
    half resolution), widths (32, 64, 128) by default, then a global max pool: ``embed(x)`` is
    that ``widths[-1]``-d vector (the FID feature space, non-negative as the MNIST one), and
    ``head`` one Linear to the logits. ~0.29 M parameters.
    """

    def __init__(self, n_classes: int = N_CLASSES, widths=(32, 64, 128), in_channels: int = 3,
                 image_size: int = 32):
        super().__init__()
        widths = tuple(int(w) for w in widths)
        self.config = dict(n_classes=n_classes, widths=widths, in_channels=in_channels,
                           image_size=image_size)
        chans = (in_channels,) + widths
        self.convs = nn.ModuleList()
        self.norms = nn.ModuleList()
        for c_in, w in zip(chans[:-1], chans[1:]):
            self.convs.append(nn.Conv2d(c_in, w, 3, padding=1, bias=False))
            self.norms.append(nn.BatchNorm2d(w))
            self.convs.append(nn.Conv2d(w, w, 3, padding=1, bias=False))
            self.norms.append(nn.BatchNorm2d(w))
        self.fc = nn.Linear(widths[-1], n_classes)

    @staticmethod
    def _pool(h):
        """2x2 max pooling as two elementwise maxima of halves (rows, then columns): 5x faster
        forward and backward on one core than a max-reduction over a (.., 2, .., 2) view."""
        n, c, hh, ww = h.shape
        r = h.reshape(n, c, hh // 2, 2, ww)
        r = minigrad.maximum(r[:, :, :, 0], r[:, :, :, 1])                 # (N, C, H/2, W)
        r = r.reshape(n, c, hh // 2, ww // 2, 2)
        return minigrad.maximum(r[..., 0], r[..., 1])                      # (N, C, H/2, W/2)

    def embed(self, x):
        h = x
        for i in range(0, len(self.convs), 2):
            h = F.relu(self.norms[i](self._pool(self.convs[i](h))))   # (N, w, s/2, s/2)
            h = F.relu(self.norms[i + 1](self.convs[i + 1](h)))
        return h.amax(dim=(2, 3))                                    # (N, widths[-1])

    def head(self, features):
        return self.fc(features)

    def forward(self, x):
        return self.head(self.embed(x))


def make_model(config):
    """A Classifier or ColourClassifier from its saved config (the latter has 'widths')."""
    return (ColourClassifier if "widths" in config else Classifier)(**config)


def random_flip(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Mirror each image left-right with probability 1/2. (N, C, H, W) -> same (a copy)."""
    out = np.array(images)
    sel = rng.random(len(out)) < 0.5
    out[sel] = out[sel][..., ::-1]
    return out


def random_shift(images: np.ndarray, max_shift: int, rng: np.random.Generator,
                 fill: float = -1.0) -> np.ndarray:
    """Translate every image by its own random (dy, dx) in [-max_shift, max_shift]^2 pixels;
    uncovered pixels get ``fill`` (the background, -1 in [-1, 1] images). (N, C, H, W) -> same."""
    if max_shift <= 0:
        return images
    n, c, h, w = images.shape
    s = int(max_shift)
    padded = np.full((n, c, h + 2 * s, w + 2 * s), fill, dtype=images.dtype)
    padded[:, :, s:s + h, s:s + w] = images
    dy = rng.integers(-s, s + 1, size=n)
    dx = rng.integers(-s, s + 1, size=n)
    out = np.empty_like(images)
    for oy in range(-s, s + 1):          # at most (2s+1)^2 slices per batch, not one per image
        for ox in range(-s, s + 1):
            sel = np.flatnonzero((dy == oy) & (dx == ox))
            if sel.size:
                out[sel] = padded[sel, :, s - oy:s - oy + h, s - ox:s - ox + w]
    return out
