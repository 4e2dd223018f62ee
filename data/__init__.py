"""twinport's dataset: one numpy format (map.csv + `.npy` shards) read by both backends.

`Dataset(folder, split)` is the loader; the importers and generators live in their own
modules and are reached through `twinport data ...`. See docs/data.md.
"""

from data.dataset import WHOLE, Dataset, Part

__all__ = ["WHOLE", "Dataset", "Part"]
