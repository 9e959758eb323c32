"""Example infants for the demo: generated ones everywhere, MINI-RGBD ones where ``../shared`` exists.

Generated examples are made on demand by the generator (fixed seed), so a fresh machine needs no data
file. The MINI-RGBD skeletons are research-only and never copied into the project: they are read from
the shared data folder (``prunelab.paths``) and offered only when it is present.
"""

from __future__ import annotations

from functools import lru_cache

from cp_predict.data import SkeletonSet
from cp_predict.simulate import GeneratorConfig, generate
from prunelab.errors import InputError
from prunelab.paths import has_shared, shared_path

MINI_RGBD = ("data", "cp", "mini_rgbd_openpose18.npz")
EXAMPLE_SEED = 20210608  # the paper's arXiv date; any fixed seed works
_PATTERN_TITLES = {"fidgety": "normal (fidgety)", "absent_fidgety": "at risk (absent fidgety)",
                   "cramped_synchronised": "at risk (cramped-synchronised)"}
GENERATED = tuple(f"Synthetic {i + 1}: {_PATTERN_TITLES[p]}" for i, p in enumerate(
    ("fidgety", "absent_fidgety", "fidgety", "cramped_synchronised")))


@lru_cache(maxsize=1)
def _generated() -> SkeletonSet:
    data = generate(GeneratorConfig(n=24, seed=EXAMPLE_SEED))
    wanted = ["fidgety", "absent_fidgety", "fidgety", "cramped_synchronised"]
    pattern = list(data.meta["pattern"])
    picks: list[int] = []
    for want in wanted:
        picks.append(next(i for i, p in enumerate(pattern) if p == want and i not in picks))
    chosen = data.subset(picks)
    chosen.names = [name.split(":")[0].replace(" ", "_").lower() for name in GENERATED]
    return chosen


def mini_rgbd_available() -> bool:
    return has_shared(*MINI_RGBD)


@lru_cache(maxsize=1)
def _mini_rgbd() -> SkeletonSet:
    from cp_predict.formats import read_npz

    return read_npz(shared_path(*MINI_RGBD))


def mini_rgbd_titles() -> list[str]:
    """Titles of the MINI-RGBD infants (empty when the shared data folder is absent)."""
    if not mini_rgbd_available():
        return []
    data = _mini_rgbd()
    return [f"MINI-RGBD {name.split('.')[0]}: labelled {'abnormal' if y else 'normal'}"
            for name, y in zip(data.names, data.labels, strict=True)]


def example_titles() -> list[str]:
    return [*GENERATED, *mini_rgbd_titles()]


def load_example(title: str) -> SkeletonSet:
    """The one-infant :class:`SkeletonSet` behind an example title."""
    if title in GENERATED:
        return _generated().subset([GENERATED.index(title)])
    titles = mini_rgbd_titles()
    if title in titles:
        return _mini_rgbd().subset([titles.index(title)])
    raise InputError(f"unknown example {title!r}")


