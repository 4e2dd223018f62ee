"""`twinport data ...`: make, import, check and look at datasets (format: docs/data.md).

The `data` package is imported inside the command functions so `twinport --help` stays fast;
only `from-tfrecord` and `from-push-tfrecord` import TensorFlow.
"""

from __future__ import annotations

import argparse

from twinport.commands.common import add_command


def register(subparsers) -> None:
    group = add_command(subparsers, "data", "make, import, verify and preview datasets")
    commands = group.add_subparsers(dest="data_command", metavar="SUBCOMMAND", required=True)

    p = add_command(commands, "moving-objects",
                    "generate the seed's moving triangle and square (64x64x3 uint8 0/1)")
    _add_out(p)
    p.add_argument("--seed", type=int, default=0, help="random seed (same seed, same bytes)")
    p.add_argument("--count", type=int, default=None,
                   help="keep the first N sequences of the shuffled grid; None keeps all 38416")
    p.add_argument("--seq-len", type=int, default=2, help="frames per sequence")
    p.set_defaults(func=moving_objects)

    p = add_command(commands, "from-tfrecord",
                    "import the seed's tf.SequenceExample records (float32 shards)")
    p.add_argument("pattern", metavar="PATTERN",
                   help="glob of record files; a file name containing 'test' is test data")
    _add_out(p)
    p.add_argument("--feature", default="moving_objs", help="feature_lists key of the frames")
    p.add_argument("--image-size", type=int, default=64, help="frame height and width")
    p.add_argument("--seq-len", type=int, default=2, help="frames per record")
    p.add_argument("--norm-scale", type=float, default=1.0,
                   help="stored values / norm_scale are in [0, 1]")
    p.set_defaults(func=from_tfrecord)

    p = add_command(commands, "sprites",
                    "import image_<character>_<pose>_<frame>.jpg files as frame pairs")
    p.add_argument("src_dir", metavar="SRC_DIR", help="folder of the sprite JPEGs")
    _add_out(p)
    p.add_argument("--seed", type=int, default=0, help="seed of the train split's shuffle")
    p.set_defaults(func=sprites)

    p = add_command(commands, "moving-mnist",
                    "generate Moving MNIST: two digits bouncing in 64x64 frames (uint8 0..255)")
    _add_generated(p, count=10_000, seq_len=20)
    p.set_defaults(func=moving_mnist)

    p = add_command(commands, "pushing",
                    "generate a pusher moving objects on a table, with actions and states")
    _add_generated(p, count=2_000, seq_len=12, seq_help="frames per sequence (at least 10)")
    p.set_defaults(func=pushing)

    p = add_command(commands, "from-push-tfrecord",
                    "import the push data of Finn et al. (2016): frames, actions and states")
    p.add_argument("data_dir", metavar="DIR",
                   help="folder of the TFRecord files (all of its entries are read, sorted)")
    _add_out(p, default="data/imported/push")
    p.add_argument("--format", choices=("google", "berkeley"), default="google",
                   help="prediction_input.py's tfrecord_format: google (0, the push data) or "
                        "berkeley (1)")
    p.add_argument("--seq-len", type=int, default=10,
                   help="time steps read from each record (its first N), at least 2")
    p.add_argument("--split", type=float, default=0.95,
                   help="the first floor(SPLIT * files) files are train, the rest test")
    p.set_defaults(func=from_push_tfrecord)

    p = add_command(commands, "from-moving-mnist-npy",
                    "import mnist_test_seq.npy ([frames, sequences, 64, 64] uint8, time first)")
    p.add_argument("file", metavar="FILE", help="the .npy; every 10th sequence is test data")
    _add_out(p)
    p.set_defaults(func=from_moving_mnist_npy)

    p = add_command(commands, "from-moving-mnist-npz",
                    "import E3D-LSTM / PredRNN .npz files (clips, dims, input_raw_data)")
    p.add_argument("files", nargs="+", metavar="FILE",
                   help="the .npz files; a name containing 'test' or 'valid' is test data")
    _add_out(p)
    p.set_defaults(func=from_moving_mnist_npz)

    p = add_command(commands, "from-kth-frames",
                    "import KTH action frames as google/e3d_lstm reads them (its person split)")
    p.add_argument("src_dir", metavar="DIR",
                   help="folder of <action>/personNN_<action>_dN/image_NNNN.* frames")
    _add_out(p)
    p.add_argument("--width", type=int, default=128,
                   help="frames resized to WIDTH x WIDTH (the KTH script's img_width)")
    p.add_argument("--seq-len", type=int, default=30,
                   help="frames per sequence (the KTH script's total_length)")
    p.add_argument("--dtype", choices=("uint8", "float32"), default="uint8",
                   help="uint8 (x 255, rounded) or float32 (the code's values exactly)")
    p.set_defaults(func=from_kth_frames)

    p = add_command(commands, "verify",
                    "check map.csv and every shard's shape, dtype, size and sha256")
    p.add_argument("dir", metavar="DIR", help="dataset folder")
    p.set_defaults(func=verify)

    p = add_command(commands, "preview",
                    "draw sequences and their frame differences into a PNG grid")
    p.add_argument("dir", metavar="DIR", help="dataset folder")
    p.add_argument("--split", default="test", help="split to draw from")
    p.add_argument("--n", type=int, default=16, help="number of sequences (the first N)")
    p.add_argument("-o", "--output", required=True, default=argparse.SUPPRESS, metavar="PNG",
                   help="output image")
    p.set_defaults(func=preview)


def _add_out(parser: argparse.ArgumentParser, default: str | None = None) -> None:
    """--out (required unless `default`) and --overwrite."""
    parser.add_argument("--out", required=default is None,
                        default=argparse.SUPPRESS if default is None else default,
                        metavar="DIR", help="dataset folder to write")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing non-empty --out folder")


def _add_generated(parser: argparse.ArgumentParser, count: int, seq_len: int,
                   seq_help: str = "frames per sequence") -> None:
    """--out, --overwrite, --seed, --count and --seq-len of a generator made in seeded blocks."""
    _add_out(parser)
    parser.add_argument("--seed", type=int, default=0,
                        help="random seed (same seed, same bytes)")
    parser.add_argument("--count", type=int, default=count,
                        help="number of sequences; a smaller N gives a prefix of a larger one")
    parser.add_argument("--seq-len", type=int, default=seq_len, help=seq_help)


def _report(out: str, rows) -> None:
    from data.summary import split_table

    print(f"wrote {out}")
    print(split_table(rows))


def moving_objects(args: argparse.Namespace) -> int:
    from data.moving_objects import write_moving_objects

    rows = write_moving_objects(args.out, seed=args.seed, count=args.count,
                                seq_len=args.seq_len, overwrite=args.overwrite)
    _report(args.out, rows)
    return 0


def from_tfrecord(args: argparse.Namespace) -> int:
    from data.tfrecord import write_tfrecords

    rows = write_tfrecords(args.pattern, args.out, feature=args.feature,
                           image_size=args.image_size, seq_len=args.seq_len,
                           norm_scale=args.norm_scale, overwrite=args.overwrite)
    _report(args.out, rows)
    return 0


def from_push_tfrecord(args: argparse.Namespace) -> int:
    from data.push_tfrecord import write_push_tfrecords

    rows = write_push_tfrecords(args.data_dir, args.out, fmt=args.format, seq_len=args.seq_len,
                                split=args.split, overwrite=args.overwrite)
    _report(args.out, rows)
    return 0


def sprites(args: argparse.Namespace) -> int:
    from data.sprites import write_sprites

    rows = write_sprites(args.src_dir, args.out, seed=args.seed, overwrite=args.overwrite)
    _report(args.out, rows)
    return 0


def moving_mnist(args: argparse.Namespace) -> int:
    from data.moving_mnist import write_moving_mnist

    rows = write_moving_mnist(args.out, seed=args.seed, count=args.count,
                              seq_len=args.seq_len, overwrite=args.overwrite)
    _report(args.out, rows)
    return 0


def pushing(args: argparse.Namespace) -> int:
    from data.pushing import write_pushing

    rows = write_pushing(args.out, seed=args.seed, count=args.count, seq_len=args.seq_len,
                         overwrite=args.overwrite)
    _report(args.out, rows)
    return 0


def from_moving_mnist_npy(args: argparse.Namespace) -> int:
    from data.moving_mnist_import import write_moving_mnist_npy

    rows = write_moving_mnist_npy(args.file, args.out, overwrite=args.overwrite)
    _report(args.out, rows)
    return 0


def from_moving_mnist_npz(args: argparse.Namespace) -> int:
    from data.moving_mnist_import import write_moving_mnist_npz

    rows = write_moving_mnist_npz(args.files, args.out, overwrite=args.overwrite)
    _report(args.out, rows)
    return 0


def from_kth_frames(args: argparse.Namespace) -> int:
    from data.kth import write_kth_frames

    rows = write_kth_frames(args.src_dir, args.out, width=args.width, seq_len=args.seq_len,
                            dtype=args.dtype, overwrite=args.overwrite)
    _report(args.out, rows)
    return 0


def verify(args: argparse.Namespace) -> int:
    from data.summary import split_table
    from data.verify import verify as verify_dataset

    rows = verify_dataset(args.dir)
    print(f"{args.dir}: OK, {len(rows)} shards match map.csv (shape, dtype, size, sha256)")
    print(split_table(rows))
    return 0


def preview(args: argparse.Namespace) -> int:
    from common.errors import UserError
    from data.dataset import Dataset
    from data.preview import write_preview

    if args.n < 1:
        raise UserError(f"--n must be at least 1, got {args.n}")
    shown = write_preview(Dataset(args.dir, args.split), args.n, args.output)
    print(f"wrote {args.output}: {shown} sequences of split {args.split!r}")
    return 0
