"""`twinport train | eval | predict | sample`: run either backend's model."""

from __future__ import annotations

import argparse

from twinport.commands.common import add_command, add_model_option

BACKEND_CHOICES = ("tf", "chainer")


def register(subparsers) -> None:
    p = add_command(subparsers, "train", "train a model on either backend")
    add_model_option(p)
    p.add_argument("--backend", choices=BACKEND_CHOICES, required=True)
    p.add_argument("--data", help="dataset folder (with map.csv); default: the model's")
    p.add_argument("--preset", default="paper")
    p.add_argument("--split", default="train", help="the split trained on; NAME[:N] its first "
                   "N sequences only (the VPN seed's overfitting run: train[:1], --batch-size 1)")
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--init", help="start from these weights (interchange .npz)")
    p.add_argument("--checkpoint-every", type=int, default=100, help="steps between checkpoints")
    p.add_argument("--check-every", type=int, default=1,
                   help="check the weights for NaN/inf every N steps and at every checkpoint "
                   "(the loss is checked every step); a larger N saves a host copy of the "
                   "weights per step, e.g. on a GPU (docs/reliability.md)")
    p.add_argument("--device", default="cpu", help="cpu, or a GPU id")
    p.add_argument("--out", required=True, help="run folder")
    p.add_argument("--resume", action="store_true", help="continue the run in --out (with "
                   "any --workers: the same global batches from the same state)")
    p.add_argument("--workers", type=int, default=1, help="data-parallel processes: "
                   "--batch-size is the global batch, split evenly over them; on one machine "
                   "twinport starts them (mpiexec), on a cluster start this command under "
                   "`mpiexec -n N -hosts ...` (docs/distributed.md)")
    p.add_argument("--timeout", type=float, default=600.0, help="seconds a worker waits for "
                   "the others at a collective before it stops the run")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run_train)

    p = add_command(subparsers, "eval", "a run's mean losses over a split (cross_conv: with the "
                    "empirical z, the seed's eval)")
    p.add_argument("--backend", choices=BACKEND_CHOICES, help="default: the run's backend")
    p.add_argument("--run", required=True, help="run folder")
    p.add_argument("--data", help="dataset folder; default: the run's")
    p.add_argument("--split", default="test")
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--batches", type=int, default=100, help="at most this many batches")
    p.set_defaults(func=run_eval)

    p = add_command(subparsers, "predict", "the model's prediction for the input X.npy "
                    "(cross_conv: diff_output; convlstm: the predicted frames)")
    add_model_option(p)
    p.add_argument("--backend", choices=BACKEND_CHOICES, required=True)
    p.add_argument("--preset", default="paper")
    p.add_argument("--weights", required=True, help="interchange .npz")
    p.add_argument("--input", required=True, help="the model's input, float32 in [0, 1], TF "
                   "layout (cross_conv: [B, 2, H, W, 3]; convlstm: [B, 20, 64, 64, 1]); a "
                   "model with several inputs reads an .npz of them by name (cdna, dna, stp: "
                   "images, actions, states)")
    p.add_argument("--epsilon", help="the model's noise, float32 (cross_conv: the VAE's "
                   "[B, z_dim]; default: drawn)")
    p.add_argument("--train-mode", action="store_true", help="BatchNorm with batch statistics")
    p.add_argument("--device", default="cpu")
    p.add_argument("-o", "--output", required=True, help="Y.npy, TF layout (cross_conv: "
                   "[B, S, S, 3]; convlstm: [B, 10, 64, 64, 1] in [0, 1]; cdna, dna, stp: "
                   "the frames after the context, [B, 8, 64, 64, 3])")
    p.set_defaults(func=run_predict)

    p = add_command(subparsers, "sample", "N futures: of one frame from the empirical z "
                    "(cross_conv), of one test sequence pixel by pixel (vpn)")
    p.add_argument("--backend", choices=BACKEND_CHOICES, help="default: the run's backend")
    p.add_argument("--run", required=True)
    p.add_argument("--frame", help="cross_conv: an image file or a .npy [H, W, 3] in [0, 1]")
    p.add_argument("--data", help="vpn: dataset folder; default: the run's")
    p.add_argument("--split", default="test", help="vpn: the split of --sequence")
    p.add_argument("--sequence", type=int, default=0,
                   help="vpn: the sequence's place in eval's order of the split")
    p.add_argument("--greedy", action="store_true",
                   help="vpn: each pixel the argmax (trainer.py's test), not a draw")
    p.add_argument("--n", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("-o", "--output", required=True,
                   help="grid .png (vpn: the frames also as .npy beside it)")
    p.set_defaults(func=run_sample)


def launch_workers(run, config, argv: list[str]) -> int:
    """Start `config.workers` processes of this same command on this machine, once what it
    reads has been checked (nothing is written before); a UserError when they stop early."""
    from common.errors import UserError
    from data import Part
    from spec.registry import get_pair
    from twinport.workers import launch

    pair = get_pair(config.model)
    if pair.check_data is not None:
        pair.check_data(config.data, config.split, pair.get_preset(config.preset),
                        config.batch_size)
    Part(0, config.workers).share(config.batch_size)
    status = launch(config.workers, argv)
    if status == 130:
        return status
    if status != 0:
        kept = run.latest_checkpoint()
        raise UserError(f"the run's {config.workers} workers stopped early (mpiexec exit "
                        f"{status}); " + (f"{kept.weights_path.parent} is its last checkpoint, "
                                          "--resume continues from it" if kept
                                          else "no checkpoint was written"))
    return 0


def check_positive(**values: int) -> None:
    from common.errors import UserError

    for name, value in values.items():
        if value < 1:
            raise UserError(f"--{name.replace('_', '-')} {value}: must be at least 1")


def run_train(args: argparse.Namespace) -> int:
    from common.errors import UserError
    from spec.registry import get_pair
    from twinport.runs import RunConfig
    from twinport.train import Interrupted, start_or_resume, train
    from twinport.workers import place

    check_positive(steps=args.steps, batch_size=args.batch_size,
                   checkpoint_every=args.checkpoint_every, check_every=args.check_every,
                   workers=args.workers)
    if args.timeout <= 0:
        raise UserError(f"--timeout {args.timeout:g}: must be positive")
    pair = get_pair(args.model)
    pair.get_preset(args.preset)
    config = RunConfig(args.backend, args.preset, args.data or pair.default_data, args.steps,
                       args.batch_size, args.seed, args.checkpoint_every, args.init, args.device,
                       args.model, args.split, args.workers)
    run, config = start_or_resume(args.out, config, args.resume)
    launched = place(config.backend)
    if args.workers > 1 and launched is None:
        return launch_workers(run, config, args.argv)
    try:
        last = train(run, config, progress=not args.quiet, check_every=args.check_every,
                     timeout=args.timeout)
    except Interrupted as stop:
        if not launched or launched[0] == 0:
            print(f"twinport: {stop}")
        return 130
    if launched and launched[0] != 0:
        return 0
    if last:
        label = next(iter(get_pair(config.model).losses))
        print(f"trained to step {config.steps}: {label} {last[label]:.5f}; run in {run.path}")
    else:
        print(f"{run.path}: already at step {config.steps}")
    return 0


def run_eval(args: argparse.Namespace) -> int:
    from spec.registry import get_pair
    from twinport.evaluate import evaluate
    from twinport.runs import RunDir

    check_positive(batch_size=args.batch_size, batches=args.batches)
    summary = evaluate(RunDir(args.run), args.data, args.split, args.batch_size, args.batches,
                       args.backend)
    losses = ", ".join(f"{label} {summary[label]:.5f}"
                       for label in get_pair(summary["model"]).losses)
    print(f"step {summary['step']}: {args.split} {losses} over {summary['batches']} batches; "
          f"written to {args.run}/eval.json")
    for label, value in summary.items():
        if isinstance(value, list):  # a pair's metric per frame (TwinPair.metrics)
            print(f"  {label}: {' '.join(f'{v:.4f}' for v in value)}")
    return 0


def run_predict(args: argparse.Namespace) -> int:
    from twinport.predict import predict

    prediction = predict(args.backend, args.preset, args.weights, args.input, args.epsilon,
                         args.train_mode, args.output, args.device, args.model)
    print(f"wrote {args.output} {list(prediction.shape)}")
    return 0


def run_sample(args: argparse.Namespace) -> int:
    from common.errors import UserError
    from spec.registry import get_pair
    from twinport.runs import RunDir
    from twinport.sample import draw_samples, read_frame, sample_futures

    run = RunDir(args.run)
    if get_pair(run.read_config().model).autoregressive is not None:
        from twinport.generate import draw_futures, sample_sequences

        futures = sample_sequences(run, args.data, args.split, args.sequence, args.n,
                                   args.seed, args.greedy, args.backend, not args.quiet)
        draw_futures(futures, args.output)
        count = futures.futures.shape[1]
        print(f"wrote {args.output} and its .npy ({args.n} futures of {count} frames, "
              f"{futures.seconds:.1f} s: {futures.seconds / count:.1f} s a frame)")
        return 0
    if args.frame is None:
        raise UserError("--frame: required for a cross_conv run")
    frame = read_frame(args.frame)
    image, futures, diffs = sample_futures(run, frame, args.n, args.seed)
    draw_samples(image, futures, diffs, args.output)
    print(f"wrote {args.output} ({args.n} futures)")
    return 0
