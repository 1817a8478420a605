"""gans: the classic GANs (and a VAE) on minigrad, one readable module per variant.

    from gans import get_model
    model = get_model("vanilla")()          # a VanillaGAN with the lecture's defaults
"""
from __future__ import annotations

import importlib

# name -> (module, class). Modules import lazily so `import gans` stays fast.
REGISTRY = {
    "vanilla": ("gans.vanilla", "VanillaGAN"),
    "dcgan": ("gans.dcgan", "DCGAN"),
    "lsgan": ("gans.lsgan", "LSGAN"),
    "sngan": ("gans.sngan", "SNGAN"),
    "cgan": ("gans.cgan", "ConditionalGAN"),
    "acgan": ("gans.acgan", "ACGAN"),
    "wgan": ("gans.wgan", "WGAN"),
    "wgan_gp": ("gans.wgan_gp", "WGANGP"),
    "infogan": ("gans.infogan", "InfoGAN"),
    "cyclegan": ("gans.cyclegan", "CycleGAN"),
    "vae": ("gans.vae", "VAE"),
}


def available() -> list[str]:
    """Names of the variants whose module exists."""
    names = []
    for name, (mod, _) in REGISTRY.items():
        if importlib.util.find_spec(mod) is not None:
            names.append(name)
    return names


def get_model(name: str):
    """The model class registered under ``name``."""
    if name not in REGISTRY:
        raise KeyError(f"unknown model {name!r}; choose from {', '.join(available())}")
    mod, cls = REGISTRY[name]
    return getattr(importlib.import_module(mod), cls)


def get_config(name: str):
    """The Config dataclass of the variant ``name`` (its paper's defaults)."""
    return importlib.import_module(REGISTRY[name][0]).Config
