"""The GAN protocol: what a variant writes, and what the trainer does for it. Read this first.

A variant is one module with a ``Config`` and a model class, plus one line in
``gans.REGISTRY``. It writes its paper and nothing else:

    @dataclass
    class Config(GANConfig):            # the fields below, plus the paper's hyperparameters
        lr: float = 2e-4

    class MyGAN(GANModel):
        name = "mygan"                  # the registry name

        def __init__(self, config=None, device="cpu"):
            super().__init__(config or Config(), device)
            self.declare(G=Generator(...), D=Discriminator(...),       # the network roles,
                         optimizer=lambda params: optim.Adam(params, lr=self.config.lr))

        def generate(self, z, labels=None):  # images (N, C, H, W) in [-1, 1]
            return self.G(z)

        def train_step(self, real, labels=None, update_g=True) -> dict:
            n = real.shape[0]
            fake = self.G(self.latent(n)).detach()
            loss_d = bce_real(self.D(real)) + bce_fake(self.D(fake))    # the paper's D loss
            self.update("D", loss_d)                # zero_grad, backward, step of D's optimizer
            stats = {"loss_d": loss_d.detach()}
            if update_g:                            # the trainer's schedule says: a G step too
                with frozen(self.D):                # D's weights get no gradient here
                    loss_g = bce_real(self.D(self.G(self.latent(n))))
                    self.update("G", loss_g)
                stats["loss_g"] = loss_g.detach()
            return stats                            # numbers for metrics.csv and the bar,
                                                    # left on the device (no .item())

The contract, both ways:

- **Config** (:class:`GANConfig`): every variant's Config derives from it, so the trainer and
  the command line find ``latent_dim``, ``batch_size``, ``n_classes`` (None: unconditional),
  ``d_steps`` (discriminator steps per generator step: the k of Goodfellow et al.'s Algorithm 1,
  the n_critic of the WGANs) and ``ema`` under one name each. Every field is a command-line
  option (``python -m gans train --model NAME --help``); a value outside its field's range
  (:data:`RANGES`: sizes >= 1, decays and probabilities in [0, 1), ...) is refused when the
  config is made. A config with a ``loss`` field is
  checked against the model's ``losses`` (the names of gans/losses.py it may take) when the
  model is made.
- **Networks and optimizers** are declared by role with :meth:`GANModel.declare` (or by filling
  ``self.nets`` and ``self.optims`` when one optimizer serves several networks, as CycleGAN's
  does); checkpoints, devices, eval mode and the moving average of G follow from that.
  ``declare(optimizer=...)`` with no networks declares the G and D of :meth:`GANModel.networks`,
  which builds them with a module library (``torch.nn`` for the PyTorch twins).
- **train_step(real, labels, update_g)** gets one batch as the loader yields it and does one D
  step, and a G step when ``update_g``. It returns a dict of detached 0-d tensors (the losses
  and whatever helps reading a run), left on the device: the trainer fetches them, many steps'
  worth in one copy, so a step never waits for the GPU. It does not count steps,
  decide the schedule, switch train/eval mode, or write files. (An image-to-image model, with
  ``image_to_image = True``, gets ``(x, y)``: a batch of each domain; CycleGAN.)
- **Sampling** (``sample``, ``sample_fixed``) runs under :meth:`GANModel.sampling`: eval mode, no
  graph, G's moving average when there is one.
- **The trainer** (:func:`gans.trainer.fit`) owns everything else: it counts ``d_step`` (D steps,
  the step of metrics.csv and ``--max-steps``) and ``step`` (G steps), asks
  :meth:`GANModel.d_steps_per_g` for the schedule, updates the moving average after G steps,
  samples in eval mode, checkpoints, resumes, and stops cleanly; under ``mpiexec -n N`` it
  makes the model data-parallel (:meth:`GANModel.distribute`) with no change to the variant.

:func:`frozen` and :func:`eval_mode` are the two context managers a step needs; both restore
exactly what was there before, also on an error.
"""
from __future__ import annotations

import contextlib
import copy
import dataclasses
import numbers
from dataclasses import dataclass

import numpy as np

import minigrad
from minigrad import nn
from gans.common import on
from gans.losses import UNCONSTRAINED, check_loss
from gans.scores import validate_labels


# ---------------------------------------------------------------------- context managers
@contextlib.contextmanager
def frozen(*nets):
    """Inside, no parameter of ``nets`` requires grad (G's step backpropagates through D without
    computing D's gradients); after, even on an error, each parameter has its own flag back, so a
    partial freeze a user set survives."""
    flags = [(p, p.requires_grad) for net in nets for p in net.parameters()]
    for p, _ in flags:
        p.requires_grad = False
    try:
        yield
    finally:
        for p, flag in flags:
            p.requires_grad = flag


@contextlib.contextmanager
def eval_mode(*nets):
    """Inside, ``nets`` are in eval mode (Dropout off, BatchNorm on running statistics); after,
    each module is back in its own mode."""
    modes = [(m, m.training) for net in nets for m in net.modules()]
    for net in nets:
        net.eval()
    try:
        yield
    finally:
        for m, mode in modes:
            m.training = mode


# --------------------------------------------------------------------------- the config
def option(default, help: str):
    """A Config field with the text ``--help`` shows for its option:
    ``lr: float = option(2e-4, "Adam's step size")`` (a plain default has no help text)."""
    return dataclasses.field(default=default, metadata={"help": help})


@dataclass
class GANConfig:
    """The fields the trainer and the command line read; a variant's Config adds its paper's
    hyperparameters and may change these defaults."""

    latent_dim: int = option(100, "size of G's input code z")
    batch_size: int = 64
    n_classes: int | None = option(None, "classes of a conditional model; None: unconditional")
    d_steps: int = option(1, "discriminator steps per generator step (k; the WGANs' n_critic)")
    ema: float = option(0.0, "sample from a moving average of G's weights with this decay (0: off)")
    lr_decay_epochs: int = option(0, "decay every learning rate linearly to 0 over this many "
                                     "epochs (0: constant; CycleGAN's paper: 100)")
    lr_decay_start: int = option(0, "the epoch (from 0) whose lr is the first decayed one "
                                    "(CycleGAN's paper: 100)")

    #: Ranges of this variant's fields that differ from :data:`RANGES` (field name -> interval).
    ranges = {}

    def __post_init__(self):
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            want = self.expected(f.name, value)
            if want:
                raise ValueError(f"{type(self).__module__}.Config: {f.name} = {value!r} is out "
                                 f"of range: expected {want} (--{f.name.replace('_', '-')})")

    @classmethod
    def expected(cls, name: str, value) -> str | None:
        """None when ``value`` is in the range of field ``name`` (or it has none); else what the
        field takes, as "a number in [0, 1)" or "whole numbers >= 1" (a tuple's items)."""
        interval = {**RANGES, **cls.ranges}.get(name)
        if interval is None or value is None:
            return None
        default = {f.name: f.default for f in dataclasses.fields(cls)}[name]
        several = isinstance(default, tuple)
        whole = isinstance(default[0] if several and default else default, int)
        items = value if several and isinstance(value, (tuple, list)) else (value,)
        kind = numbers.Integral if whole else numbers.Real
        if all(isinstance(v, kind) and not isinstance(v, bool) and _inside(v, interval)
               for v in items):
            return None
        what = ("whole number" if whole else "number") + ("s" if several else "")
        return f"{'' if several else 'a '}{what} {_spelled(interval)}"


#: The values a config field may take, by name, in every variant's Config that has that field
#: (a variant's ``ranges`` overrides them); a tuple's items each. Checked when a config is made
#: (:meth:`GANConfig.expected`) and when the command line is read. Whole numbers where the
#: field's default is one.
RANGES = {
    **dict.fromkeys(["latent_dim", "batch_size", "n_classes", "d_steps", "channels", "img_size",
                     "g_features", "d_features", "fc_features", "q_features", "embed_dim",
                     "hidden", "g_hidden", "d_hidden", "mlp_hidden", "ngf", "ndf",
                     "n_categories", "n_power_iterations"], "[1, inf)"),  # sizes
    **dict.fromkeys(["g_fc_features", "n_continuous", "n_residual", "pool_size",
                     "warmup_iters", "lr_decay_epochs", "lr_decay_start"], "[0, inf)"),  # counts
    **dict.fromkeys(["ema", "dropout", "betas", "momentum"], "[0, 1)"),  # decays, probabilities
    **dict.fromkeys(["r1_gamma", "gp_lambda", "lambda_cyc", "lambda_id", "lambda_cat",
                     "lambda_cont", "class_weight"], "[0, inf)"),  # weights of loss terms
    **dict.fromkeys(["lr", "lr_g", "lr_d", "clip", "sweep"], "(0, inf)"),
}


def _inside(value, interval: str) -> bool:
    """Whether ``value`` lies in ``interval``, written "[0, 1)", "(0, inf)"..."""
    low, high = (float(t) for t in interval[1:-1].split(","))
    return ((low < value or interval[0] == "[" and value == low)
            and (value < high or interval[-1] == "]" and value == high))


def _spelled(interval: str) -> str:
    """``interval`` as a range in words: ">= 1", "> 0", or "in [0, 1)"."""
    low, high = interval[1:-1].split(", ")
    if high == "inf":
        return f"{'>=' if interval[0] == '[' else '>'} {low}"
    return f"in {interval}"


#: Config fields renamed since earlier versions (old run folders still resume).
RENAMED = {"k": "d_steps", "n_critic": "d_steps"}


def config_dict(config) -> dict:
    """A dataclass config as plain JSON-able values (tuples become lists)."""
    return {k: (list(v) if isinstance(v, tuple) else v)
            for k, v in dataclasses.asdict(config).items()}


def upgrade_config_dict(cls, values: dict) -> dict:
    """``values`` (a saved config) in today's field names, with today's defaults for the fields
    it lacks (the ``n_classes = 10`` older unconditional configs carried becomes None)."""
    values = {RENAMED.get(k, k): v for k, v in values.items()}
    defaults = config_dict(cls())
    if "n_classes" in defaults and defaults["n_classes"] is None:
        values["n_classes"] = None
    return {k: values.get(k, default) for k, default in defaults.items()}


def config_from_dict(cls, values: dict):
    """Rebuild a config dataclass, turning lists back into tuples where the default is one."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for k, v in upgrade_config_dict(cls, values).items():
        default = fields[k].default
        kwargs[k] = tuple(v) if isinstance(default, tuple) and isinstance(v, list) else v
    return cls(**kwargs)


# --------------------------------------------------------------------------- checkpoints
def check_file(path, magic: bytes, what: str, hint: str) -> None:
    """Raise a one-line error unless ``path`` is a file starting with ``magic``."""
    from pathlib import Path

    if not Path(path).is_file():
        raise FileNotFoundError(f"no {what} at {path} ({hint})")
    with open(path, "rb") as f:
        if f.read(len(magic)) != magic:
            raise ValueError(f"{path} is not a {what} ({hint})")


def load_model(checkpoint, device="cpu") -> "GANModel":
    """Rebuild a trained model from a checkpoint written by the trainer (``python -m gans
    train``): its registry name and config are in the file. ``model.from_dry_run`` says whether
    a dry run (two steps) wrote it."""
    import gans
    from minigrad.utils.io import load

    check_file(checkpoint, b"PK", "checkpoint", "train writes one into its --out folder")
    ckpt = load(checkpoint)
    if not (isinstance(ckpt, dict) and isinstance(ckpt.get("model"), dict)
            and "name" in ckpt["model"]):
        keys = ", ".join(map(str, ckpt)) if isinstance(ckpt, dict) else type(ckpt).__name__
        raise ValueError(f"{checkpoint} is not a checkpoint written by `python -m gans train` "
                         f"(it holds: {keys})")
    state = ckpt["model"]
    name = state["name"]
    if name not in gans.REGISTRY:
        raise ValueError(f"{checkpoint} holds a model {name!r} that this version of gans does "
                         f"not know (known: {', '.join(gans.available())})")
    config = config_from_dict(gans.get_config(name), state["config"])
    model = gans.get_model(name)(config, device=device)
    model.load_state_dict(state)
    loop = ckpt.get("loop")
    model.from_dry_run = bool(isinstance(loop, dict) and loop.get("dry_run"))
    return model


def warmed_up_decay(decay: float, t: int, warmup: float = 10.0) -> float:
    """A moving average's ``decay`` after ``t`` updates, warmed up as (1 + t) / (warmup + t):
    until it reaches ``decay``, the average spans about the last (warmup + t) / (warmup - 1)
    updates (with 10, the last ninth of the run)."""
    return min(decay, (1 + t) / (warmup + t)) if decay else 0.0


def average_into(avg: nn.Module, live: nn.Module, decay: float) -> None:
    """avg <- decay * avg + (1 - decay) * live, parameters and floating buffers (BatchNorm's
    running statistics) alike; integer buffers are copied."""
    pairs = list(zip(avg.parameters(), live.parameters()))
    pairs += list(zip(avg.buffers(), live.buffers()))
    for a, p in pairs:
        if a.data.dtype.kind == "f":
            a.data -= (1 - decay) * (a.data - p.data)
        else:
            a.data[...] = p.data


# ---------------------------------------------------------------------------- the model
class GANModel:
    """What every variant shares: networks and optimizers by role, checkpoints, sampling, the
    moving average of G. A variant writes ``__init__`` (its networks), ``generate`` and
    ``train_step``; see the module docstring."""

    name = "gan"
    #: False: batches are (images, labels); True: (x, y), images of two domains (CycleGAN)
    image_to_image = False
    #: The names the config's ``loss`` may take (gans/losses.py), checked when the model is
    #: made (configs without a ``loss`` field have their own): by default those that need no
    #: Lipschitz constraint on D; a variant whose D is kept Lipschitz (SNGAN) allows them all.
    losses: tuple = UNCONSTRAINED
    #: The network classes of a variant whose G and D are built from its config alone
    #: (``Generator(config)``), for the default :meth:`networks`.
    Generator = Discriminator = None

    def __init__(self, config: GANConfig, device="cpu"):
        self.config = config
        self.device = minigrad.device(device)
        self.nets: dict[str, nn.Module] = {}  # role -> network
        self.optims: dict = {}  # name -> optimizer (one per role unless a variant shares one)
        self.step = 0  # generator updates done (the trainer counts)
        self.d_step = 0  # discriminator updates done (the trainer counts)
        self.ema: dict[str, nn.Module] = {}  # role -> moving average of that network
        if hasattr(config, "loss"):
            check_loss(config.loss, self.losses)

    @property
    def capture_refusal(self) -> str | None:
        """Why one recorded CUDA graph cannot stand for every step of this model (the host
        decides something anew each step, which replays would repeat), or None. ``--cuda-graph``
        then says it and trains eagerly (``minigrad.graphs.GraphedStep``)."""
        return None

    @property
    def conditional(self) -> bool:
        """True when G and D take class labels (``n_classes`` is set)."""
        return self.config.n_classes is not None

    # --------------------------------------------------------------- roles and updates
    def networks(self, lib=nn):
        """G and D as they start, built with the module library ``lib`` (``torch.nn`` for the
        PyTorch twin, benchmarks/twins.py): here the variant's ``Generator(config)`` and
        ``Discriminator(config)`` (see :func:`gans.common.on`); variants built otherwise
        override it."""
        if self.Generator is None or self.Discriminator is None:
            raise NotImplementedError(f"{type(self).__name__} names no Generator and "
                                      "Discriminator classes and has no networks() of its own")
        return on(lib, self.Generator)(self.config), on(lib, self.Discriminator)(self.config)

    def declare(self, optimizer, init=None, **nets) -> None:
        """Declare networks by role (``G=..., D=...``; none given: the G and D of
        :meth:`networks`): each becomes ``self.<role>``, moves to the model's device (after
        ``net.apply(init)`` when ``init`` is given) and gets its own optimizer,
        ``optimizer(params)``, or ``optimizer[role](params)`` for a dict."""
        if not nets:
            nets = dict(zip(("G", "D"), self.networks()))
        for role, net in nets.items():
            if init is not None:
                net.apply(init)
            net.to(self.device)
            setattr(self, role, net)
            self.nets[role] = net
            make = optimizer[role] if isinstance(optimizer, dict) else optimizer
            self.optims[role] = make(net.parameters())

    def update(self, name: str, loss) -> None:
        """One optimizer step on ``loss``: zero_grad, backward, step of ``self.optims[name]``."""
        opt = self.optims[name]
        opt.zero_grad()
        loss.backward()
        opt.step()

    def d_steps_per_g(self) -> int:
        """The schedule, asked by the trainer before each batch: D steps per G step right now."""
        return self.config.d_steps

    # ------------------------------------------------------------ learning-rate schedule
    def lr_factor(self, epoch: int) -> float:
        """What every learning rate is multiplied by in ``epoch`` (counted from 0): 1 before the
        config's ``lr_decay_start``, then 1 - j / (lr_decay_epochs + 1) in the decay's j-th
        epoch (j = 1, 2, ...), down to 1 / (lr_decay_epochs + 1) in its last one and 0 after.
        CycleGAN's schedule (Zhu et al. 2017, and pix2pix's): ``lr_decay_start = 100``,
        ``lr_decay_epochs = 100``, 200 epochs. 1 throughout when ``lr_decay_epochs`` is 0."""
        n = self.config.lr_decay_epochs
        if not n:
            return 1.0
        return max(0.0, 1.0 - max(0, epoch - self.config.lr_decay_start + 1) / (n + 1))

    def schedule_lr(self, epoch: int) -> bool:
        """Set the lr of every optimizer's groups for ``epoch`` (the trainer calls it as each
        epoch starts, a resumed one too): ``initial_lr * lr_factor(epoch)``, where each group's
        ``initial_lr`` is its lr when first scheduled, kept in the group (and so in checkpoints)
        as ``torch.optim.lr_scheduler`` keeps it. The lr is a function of the epoch, not of the
        last lr, so a resumed run has the very floats of an uninterrupted one. Returns whether
        an lr changed. Does nothing without a decay (an lr set by hand stays)."""
        if not self.config.lr_decay_epochs:
            return False
        factor, changed = self.lr_factor(epoch), False
        for opt in self.optims.values():
            for group in opt.param_groups:
                lr = group.setdefault("initial_lr", group["lr"]) * factor
                if group["lr"] != lr:
                    group["lr"], changed = lr, True
        return changed

    def train_step(self, real, labels=None, update_g=True) -> dict:  # pragma: no cover
        raise NotImplementedError

    # ------------------------------------------------------------------------ sampling
    def generate(self, z, labels=None):  # pragma: no cover - per variant
        """Images (N, C, H, W) in [-1, 1] from latent codes ``z`` (and ``labels``)."""
        raise NotImplementedError

    def latent(self, n: int, rng=None):
        """``n`` latent codes for ``generate`` (a Tensor); from ``rng`` (numpy) when given."""
        dim = self.config.latent_dim
        if rng is None:
            return minigrad.randn(n, dim, device=self.device)
        return minigrad.tensor(rng.standard_normal((n, dim)).astype(np.float32),
                               device=self.device)

    def sample(self, n: int, labels=None, z=None) -> minigrad.Tensor:
        """``n`` images (N, C, H, W) in [-1, 1], made in eval mode with no graph recorded, by the
        moving average of G when there is one.

        Conditional models take ``labels`` (ints, default: 0..n_classes-1 repeated), one per
        image, in [0, n_classes); unconditional ones take none. ``z`` (G's inputs, default:
        fresh noise) may live on any device: it is moved to the model's, as the labels are."""
        if labels is not None:
            if not self.conditional:
                raise ValueError(f"labels: {self.name} is unconditional (its config's n_classes "
                                 "is None), so it takes no labels")
            rows = n if z is None else z.shape[0]
            if isinstance(labels, minigrad.Tensor):
                labels = labels.numpy()
            labels = validate_labels(labels, rows, self.config.n_classes)
        elif self.conditional:
            labels = np.arange(n) % self.config.n_classes
        if labels is not None:
            labels = minigrad.tensor(labels, device=self.device)
        if z is not None:
            z = z.detach().to(self.device) if isinstance(z, minigrad.Tensor) else \
                minigrad.tensor(z, device=self.device)
        with self.sampling():
            return self.generate(self.latent(n) if z is None else z, labels)

    def sample_fixed(self, n: int = 64) -> minigrad.Tensor:
        """Samples from the same latent codes every time (seeded apart from training), so grids
        taken during training show the progress of one set of images."""
        z = self.latent(n, rng=np.random.default_rng(1234))
        labels = np.arange(n) % self.config.n_classes if self.conditional else None
        return self.sample(n, labels, z)

    # ------------------------------------------------------------- moving average of G
    def ema_decay(self) -> float:
        """The config's ``ema`` (0: no average), warmed up as (1 + t) / (10 + t) after t G
        steps, so that a short run is not dominated by the initial weights (0.999 ** 1000 is
        still 0.37)."""
        return warmed_up_decay(float(self.config.ema or 0.0), self.step)

    def _ema_copy(self, role: str) -> nn.Module:
        if role not in self.ema:
            net = copy.deepcopy(self.nets[role])
            net.requires_grad_(False)
            self.ema[role] = net
        return self.ema[role]

    def update_ema(self) -> None:
        """After a G step (the trainer calls it): G_ema <- decay * G_ema + (1 - decay) * G,
        parameters and floating buffers (BatchNorm's running statistics) alike; integer buffers
        are copied."""
        if not self.config.ema or "G" not in self.nets:
            return
        average_into(self._ema_copy("G"), self.nets["G"], self.ema_decay())

    @contextlib.contextmanager
    def sampling(self):
        """What sampling runs under: eval mode, no graph, and each role attribute (``self.G``...)
        the plain network, or its moving average when there is one (``generate`` reads
        ``self.G``), never a data-parallel wrapper, so sampling on one process alone is safe."""
        saved = {role: getattr(self, role) for role in self.nets if hasattr(self, role)}
        for role in saved:
            setattr(self, role, self.ema.get(role, self.nets[role]))
        nets = list(self.nets.values()) + list(self.ema.values())
        try:
            with eval_mode(*nets), minigrad.no_grad():
                yield
        finally:
            for role, net in saved.items():
                setattr(self, role, net)

    # ------------------------------------------------------------ data-parallel training
    def distribute(self) -> None:
        """Data-parallel training in a process group of several processes (the trainer calls
        it under ``mpiexec -n N``): each network's BatchNorm becomes SyncBatchNorm (statistics of
        the global batch, as one process would compute them) and each role attribute a
        ``DistributedDataParallel`` wrapper, which averages the gradients after backward.
        ``self.nets`` keeps the plain networks, so checkpoints do not change."""
        from minigrad.nn import SyncBatchNorm
        from minigrad.nn.parallel import DistributedDataParallel

        for role, net in list(self.nets.items()):
            if isinstance(getattr(self, role, None), DistributedDataParallel):
                continue  # already distributed
            net = SyncBatchNorm.convert_sync_batchnorm(net)
            self.nets[role] = net
            setattr(self, role, DistributedDataParallel(net))

    # --------------------------------------------------------------------- checkpoints
    def to(self, device):
        self.device = minigrad.device(device)
        for m in list(self.nets.values()) + list(self.ema.values()):
            m.to(device)
        return self

    def state_dict(self) -> dict:
        return {
            "name": self.name,
            "nets": {k: m.state_dict() for k, m in self.nets.items()},
            "optims": {k: o.state_dict() for k, o in self.optims.items()},
            "ema": {k: m.state_dict() for k, m in self.ema.items()},
            "step": self.step,
            "d_step": self.d_step,
            "config": config_dict(self.config),
        }

    def load_state_dict(self, state: dict) -> None:
        for k, m in self.nets.items():
            m.load_state_dict(state["nets"][k])
        for k, o in self.optims.items():
            o.load_state_dict(state["optims"][k])
        for k, sd in state.get("ema", {}).items():
            self._ema_copy(k).load_state_dict(sd)
        self.step = int(state["step"])
        self.d_step = int(state["d_step"])

    def num_parameters(self) -> dict:
        return {k: sum(p.numel() for p in m.parameters()) for k, m in self.nets.items()}
