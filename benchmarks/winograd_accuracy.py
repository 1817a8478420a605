"""The float32 error of every convolution route on the GANs' wide layers, against float64.

    python -m benchmarks.winograd_accuracy

For each layer (batch 64, random normal inputs, weights scaled by 0.05) it computes the layer's
forward product in float32 by each route that can take it (im2col, and Winograd on 2x2 and on
4x4 output tiles, as minigrad.set_conv_precision("highest") and "high" pick them) and prints
max |y32 - y64| / max |y64|, y64 being the im2col product in float64. The routes are forced
(ops/conv.py's thresholds at 0), so a layer shows every route, not only the one it takes.
"""
from __future__ import annotations

import numpy as np

import minigrad
from minigrad.ops import conv as conv_ops

# (name, kind, C_in, C_out, H_in, kernel, stride): DCGAN-32 and DCGAN-64's 4x4/2 layers, SNGAN's
# 3x3 ones (padding 1)
LAYERS = [
    ("D32 conv2 64->128 16->8", "conv", 64, 128, 16, 4, 2),
    ("D32 conv3 128->256 8->4", "conv", 128, 256, 8, 4, 2),
    ("D64 conv2 64->128 32->16", "conv", 64, 128, 32, 4, 2),
    ("G32 convT1 256->128 4->8", "convT", 256, 128, 4, 4, 2),
    ("G32 convT2 128->64 8->16", "convT", 128, 64, 8, 4, 2),
    ("SN-D conv3 64->128 16 k3", "conv", 64, 128, 16, 3, 1),
    ("SN-D conv5 128->256 8 k3", "conv", 128, 256, 8, 3, 1),
]


#: ops/conv.py's thresholds that send every product to im2col
IM2COL = dict(WINOGRAD_MIN_WIDTH=10 ** 9, WINOGRAD_K4S2_MIN_C=10 ** 9,
              WINOGRAD_K4S2F4_FEW_TILES_MIN_C=10 ** 9, WINOGRAD_K4S2T_MIN_TILES=10 ** 9)


def _product(kind, x, w, stride):
    f = minigrad.nn.functional
    with minigrad.no_grad():
        if kind == "conv":
            return f.conv2d(minigrad.tensor(x), minigrad.tensor(w), None, stride, 1).numpy()
        return f.conv_transpose2d(minigrad.tensor(x), minigrad.tensor(w), None, stride,
                                  1).numpy()


def _set(**values):
    for name, value in values.items():
        setattr(conv_ops, name, value)


def main():
    saved = {k: getattr(conv_ops, k) for k in ("WINOGRAD_TILE", "K4S2_TILE", "WINOGRAD_MIN_WIDTH",
                                               "WINOGRAD_K4S2_MIN_C", "WINOGRAD_K4S2_MIN_PIXELS",
                                               "WINOGRAD_K4S2F4_FEW_TILES_MIN_C",
                                               "WINOGRAD_K4S2T_MIN_TILES")}
    rng = np.random.default_rng(0)
    print("| layer (batch 64) | im2col | Winograd, 2x2 tiles | Winograd, 4x4 tiles |")
    print("|---|---:|---:|---:|")
    try:
        for name, kind, cin, cout, h, k, s in LAYERS:
            x = rng.standard_normal((64, cin, h, h)).astype(np.float32)
            shape = (cout, cin, k, k) if kind == "conv" else (cin, cout, k, k)
            w = (0.05 * rng.standard_normal(shape)).astype(np.float32)
            _set(**{**saved, **IM2COL})
            exact = _product(kind, x.astype(np.float64), w.astype(np.float64), s)
            cells = []
            for routes in ({}, {"tile": 2}, {"tile": 4}):
                _set(**saved)
                if routes:
                    _set(WINOGRAD_TILE=routes["tile"], K4S2_TILE=routes["tile"],
                         WINOGRAD_MIN_WIDTH=0, WINOGRAD_K4S2_MIN_C=0, WINOGRAD_K4S2_MIN_PIXELS=0,
                         WINOGRAD_K4S2F4_FEW_TILES_MIN_C=0, WINOGRAD_K4S2T_MIN_TILES=0)
                else:
                    _set(**IM2COL)
                y = _product(kind, x, w, s)
                cells.append(f"{np.abs(y - exact).max() / np.abs(exact).max():.1e}")
            print(f"| {name} | " + " | ".join(cells) + " |")
    finally:
        _set(**saved)


if __name__ == "__main__":
    main()
