"""``python -m gans train --model NAME ...``: train a variant; every field of its Config is an
option (``--model NAME --help`` lists them)."""
from __future__ import annotations

import argparse
from pathlib import Path

from gans.cli import options
from gans.cli.config_options import add_config_options, config_overrides


def add_parser(sub, config_cls=None):
    """The train command; ``config_cls`` (the variant's Config, when --model names one) adds
    one option per field."""
    import gans
    from gans import datasets

    tr = sub.add_parser(
        "train", help="train a variant; leaves pictures, metrics and a checkpoint in --out",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Train a variant with the paper's defaults; every field of its Config is "
                    "an option.\nAdd --model NAME --help to list that variant's config options.",
        epilog="Run folder: config.json, metrics.csv, loss_curve.png, samples/*.png and "
               "checkpoint.npz.\nAn existing checkpoint there is resumed unless --restart; "
               "a new run there first removes\nthe earlier run's files (those names only).")
    tr.add_argument("--model", required=True, choices=gans.available(), metavar="NAME",
                    help="the variant: " + ", ".join(gans.available()))
    tr.add_argument("--dataset", default="mnist", type=options.dataset_name(datasets.DATASETS),
                    help="mnist, fashion_mnist, mnist_xy (cyclegan), cifar10, "
                         "imagefolder:PATH (class sub-folders of images, 32x32 colour) or "
                         "random (noise images: no download, for smoke tests) (default: mnist; "
                         "a resumed run must name the dataset it was started with)")
    tr.add_argument("--epochs", type=options.positive_int, default=5,
                    help="passes over the data (default: 5)")
    tr.add_argument("--out", default=None, type=options.out_folder,
                    help="run folder (default: runs/MODEL_DATASET)")
    tr.add_argument("--max-steps", type=options.positive_int, default=None,
                    help="stop after this many discriminator steps")
    tr.add_argument("--sample-every", type=options.non_negative_int, default=500,
                    help="write a sample grid every N steps, 0 for never (default: 500)")
    tr.add_argument("--checkpoint-every", type=options.non_negative_int, default=1000,
                    help="write the checkpoint every N steps, besides every epoch end "
                         "(default: 1000)")
    tr.add_argument("--log-every", type=options.positive_int, default=50,
                    help="bring the logged numbers from the device every N steps, in one copy "
                         "(metrics.csv keeps a row per step) (default: 50)")
    tr.add_argument("--cuda-graph", action="store_true",
                    help="on a GPU, record one training step as a CUDA graph after two eager "
                         "ones and replay it (one launch per step; docs/gpu.md); elsewhere one "
                         "line says why not and training is eager")
    tr.add_argument("--dry-run", action="store_true",
                    help="2 steps, then the end-of-run files (a final grid, metrics.csv and a "
                         "checkpoint marked as a dry run): checks the whole pipeline in seconds")
    tr.add_argument("--restart", action="store_true",
                    help="start from scratch even if --out holds a checkpoint (the earlier "
                         "run's checkpoint, metrics and pictures are removed when the new run "
                         "writes its first file)")
    tr.add_argument("--no-progress", action="store_true", help="no progress bar")
    options.add_device_and_seed(tr, "seeds the weights, the noise and the batch order "
                                    "(default: 0; resuming a run: the seed it was started with, "
                                    "and another one is refused)", seed_default=None)
    if config_cls is not None:
        add_config_options(tr, config_cls)
    return tr


#: Set by MPI launchers (MPICH/Intel MPI's hydra, Open MPI) in the processes they start.
_MPI_LAUNCHER_VARS = ("PMI_SIZE", "PMI_RANK", "OMPI_COMM_WORLD_SIZE", "PMIX_RANK")


def _join_mpi_job() -> tuple[int, int]:
    """Under ``mpiexec -n N``: join the job (rank, world size); started alone: (0, 1)."""
    import os

    from minigrad import distributed as dist

    if dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    if not any(v in os.environ for v in _MPI_LAUNCHER_VARS):
        return 0, 1
    dist.init_process_group("mpi")
    return dist.get_rank(), dist.get_world_size()


def _dataset_record(name: str) -> str:
    """--dataset as the run folder records it: imagefolder's path made absolute."""
    if name.startswith("imagefolder:"):
        return "imagefolder:" + str(Path(name.split(":", 1)[1]).resolve())
    return name


def _run_seed(args, out) -> int:
    """The seed: --seed, or when it is left out, the seed of the run resumed in ``out`` (0 for
    a new run). Resuming a run recorded with another dataset or seed raises RunMismatch."""
    from gans.training.run_folder import RunFolder, check_same_data

    run = RunFolder(out)
    resumes = not (args.restart or args.dry_run) and run.holds_real_run()
    saved = run.recorded() if resumes else {}
    seed = saved.get("seed", 0) if args.seed is None else args.seed
    check_same_data(saved, {"dataset": _dataset_record(args.dataset), "seed": seed}, out)
    return seed


def _check_data_fits(model, ds, dataset: str) -> None:
    """Raise ValueError (one line) when ``model`` cannot train on ``ds``: image pairs (x, y)
    for a model of labelled images or the reverse, or more classes than a conditional model's
    n_classes."""
    arrays = getattr(ds, "arrays", None)
    if arrays is None or len(arrays) != 2:
        return
    pairs = arrays[1].ndim > 1
    if pairs and not model.image_to_image:
        raise ValueError(f"--dataset {dataset} holds image pairs (x, y), for image-to-image "
                         f"models (cyclegan); {model.name} trains on single images: choose "
                         "another --dataset")
    if model.image_to_image and not pairs:
        raise ValueError(f"{model.name} trains on image pairs (x, y), but --dataset {dataset} "
                         "holds single images: choose --dataset mnist_xy (or random)")
    if model.conditional and len(arrays[1]):
        classes, n_classes = int(arrays[1].max()) + 1, model.config.n_classes
        if classes > n_classes:
            raise ValueError(f"--dataset {dataset} has {classes} classes, but {model.name} is "
                             f"set up for {n_classes} (--n-classes): pass --n-classes {classes}")


def cmd_train(args):
    import numpy as np

    import gans
    import minigrad
    from gans import datasets
    from gans.trainer import fit
    from minigrad.data import DataLoader, DistributedSampler

    rank, world = _join_mpi_job()
    if world > 1 and args.device == "cuda":  # one GPU per process, as far as there are GPUs
        from minigrad import distributed as dist

        minigrad.cuda.set_device(dist.get_node_local_rank() % minigrad.cuda.device_count())
    out = args.out or options.out_folder(f"runs/{args.model}_{args.dataset.split(':')[0]}")
    seed = _run_seed(args, out)
    minigrad.manual_seed(seed)  # the same weights everywhere (DDP copies rank 0's anyway)
    from gans.datasets import config_for

    # channels and img_size follow the data's images unless given
    config = config_for(gans.get_config(args.model), args.dataset, **config_overrides(args))
    model = gans.get_model(args.model)(config, device=args.device)
    if world > 1:
        minigrad.manual_seed(seed + rank)  # but each process its own noise
    batch = model.config.batch_size
    # random: enough noise images for two batches of this model's size (drop_last below).
    ds = datasets.load(args.dataset, "train", n=2 * batch if args.dataset == "random" else None,
                       image_to_image=model.image_to_image)
    _check_data_fits(model, ds, args.dataset)
    device = args.device if args.device != "cpu" else None
    if world == 1:
        loader = DataLoader(ds, batch_size=batch, shuffle=True, drop_last=True, seed=seed,
                            device=device)
    else:  # --batch-size stays the global batch: each of the N processes takes batch / N of it
        if batch % world:
            raise ValueError(f"the batch size {batch} does not split over {world} processes: "
                             f"choose a multiple of {world} (--batch-size)")
        sampler = DistributedSampler(ds, shuffle=True, seed=seed, drop_last=True)
        loader = DataLoader(ds, batch_size=batch // world, sampler=sampler, drop_last=True,
                            device=device)
    # NumPy's overflow/NaN warnings off: a non-finite number that reaches the logged losses
    # stops the run with one line of its own (TrainingDiverged: the step and the losses)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        fit(model, loader, epochs=args.epochs, out_dir=out, sample_every=args.sample_every,
            checkpoint_every=args.checkpoint_every, max_steps=args.max_steps,
            dry_run=args.dry_run, resume=not args.restart, progress=not args.no_progress,
            log_every=args.log_every, cuda_graph=args.cuda_graph,
            record={"dataset": _dataset_record(args.dataset), "seed": seed})
    if rank == 0:
        print(f"checkpoint: {Path(out) / 'checkpoint.npz'}"
              + (f" ({world} processes)" if world > 1 else ""))
