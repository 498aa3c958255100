"""Example data from data sets that ship inside scikit-learn, with slice columns a reviewer cares about.

The example registry (models.yaml at the project root), the demo and the tests all use these frames, so they
are built deterministically: the same bytes on every machine, pinned by sha256 in models.yaml.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

SEED = 20261123


def _snake(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def _split(frame: pd.DataFrame, stratify: str | None, eval_share: float = 0.4) -> tuple[pd.DataFrame, pd.DataFrame]:
    from sklearn.model_selection import train_test_split

    train, evaluation = train_test_split(
        frame, test_size=eval_share, random_state=SEED, stratify=frame[stratify] if stratify else None
    )
    return train.reset_index(drop=True), evaluation.reset_index(drop=True)


def tumor_frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Breast-cancer diagnosis (binary): target `malignant`, slices `size_band` and `texture_band`."""
    import pandas as pd
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer(as_frame=True)
    frame = bunch.frame.rename(columns=_snake)
    frame["malignant"] = 1 - frame.pop("target")
    frame["size_band"] = pd.qcut(frame["mean_radius"], 3, labels=["small", "medium", "large"]).astype(str)
    frame["texture_band"] = (frame["mean_texture"] > frame["mean_texture"].median()).map(
        {True: "rough", False: "smooth"}
    )
    return _split(frame, "malignant")


def diabetes_frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Diabetes progression (regression): target `progression`, slices `sex` and `age_band`."""
    import pandas as pd
    from sklearn.datasets import load_diabetes

    bunch = load_diabetes(as_frame=True, scaled=False)
    frame = bunch.frame.rename(columns={"target": "progression"})
    frame["sex"] = frame["sex"].map({1.0: "group_1", 2.0: "group_2"})
    frame["age_band"] = pd.cut(frame["age"], [0, 40, 55, 200], labels=["under_40", "40_to_55", "over_55"]).astype(str)
    return _split(frame, None)


EXAMPLES = {
    "tumor-malignancy": tumor_frames,
    "diabetes-progression": diabetes_frames,
}


def write_examples(folder: Path) -> dict[str, Path]:
    """Write every example's evaluation and reference CSV into `folder`; returns the paths by file stem."""
    folder.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for name, frames in EXAMPLES.items():
        train, evaluation = frames()
        for kind, frame in (("reference", train), ("eval", evaluation)):
            path = folder / f"{name}-{kind}.csv"
            frame.to_csv(path, index=False, lineterminator="\n")
            written[path.stem] = path
    return written
