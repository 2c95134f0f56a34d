"""An MNIST-format data set for the quadrant experiment, through torchvision, from a configurable data root.

The engine knows no particular data set: the course names one (:class:`DataSet`, read from the course's
manifest, ``course/course.toml``), any of torchvision's MNIST-format sets (28 x 28 grey images, 10 classes:
``MNIST``, ``FashionMNIST``, ``KMNIST``). The data root is ``--data-root``, else ``$CNN_GRADER_DATA``, else
``~/.cache/cnn-grader/data``; it holds ``<folder>/raw/`` as torchvision lays it out (gzipped or not), or the
data set names a folder of its own that holds the four files (``raw``: a system package's copy). Where only the
10,000-image test file is present, the grader trains on its first 8,000 images and tests on the last 2,000, and
says so.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DATA_ENV = "CNN_GRADER_DATA"
CACHE_ENV = "CNN_GRADER_CACHE"
OFFLINE_ENV = "CNN_GRADER_OFFLINE"  # "1": never try to download (the tests, machines without a network)
TRAIN_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte")
TEST_FILES = ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


PREPARED_KEYS = ("train_digits", "train_labels", "test_digits", "test_labels", "source")


class DataUnavailable(Exception):
    """The data set could not be found under the data root nor downloaded."""


@dataclass(frozen=True)
class DataSet:
    """An MNIST-format data set as the course names it.

    ``name`` is what reports say; ``folder`` is torchvision's class name, which is also its folder under the
    data root (``ROOT/<folder>/raw``); ``raw``, where given, is a folder that holds the four files itself
    (``/usr/share/datasets/fashion-mnist``), used instead of the data root; ``item`` is what reports call one
    image (``digit``).
    """

    name: str
    folder: str
    raw: str | None = None
    item: str = "image"

    def raw_dir(self, root: Path) -> Path:
        return Path(self.raw).expanduser() if self.raw else root / self.folder / "raw"

    def layout(self) -> str:
        """Where the files are expected, for messages."""
        return f"{self.raw} (the course's folder for {self.name})" if self.raw else f"{self.folder}/raw/"


def default_dataset() -> DataSet:
    """The data set the installed course names (its manifest's ``[data]``)."""
    from grader import coursepkg

    return coursepkg.current().dataset


def cache_dir() -> Path:
    """Where the grader keeps decompressed data and cached reference results."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "cnn-grader")


def resolve_data_root(data_root: str | os.PathLike[str] | None = None) -> Path:
    return Path(data_root or os.environ.get(DATA_ENV) or cache_dir() / "data").expanduser()


@dataclass(frozen=True)
class DigitSplit:
    """uint8 digits (N x 28 x 28) and int64 labels for training and testing, and where they came from."""

    train_digits: np.ndarray
    train_labels: np.ndarray
    test_digits: np.ndarray
    test_labels: np.ndarray
    source: str


def _has(raw: Path, names: tuple[str, ...]) -> bool:
    return all((raw / n).exists() or (raw / f"{n}.gz").exists() for n in names)


def _materialise(raw: Path, names: tuple[str, ...], dataset: DataSet) -> Path:
    """Return a folder that holds ``names`` uncompressed (what torchvision's readers take).

    The data root may be read-only and hold only ``.gz`` files: those are decompressed into the cache.
    """
    if all((raw / n).exists() for n in names):
        return raw
    digest = hashlib.sha256(str(raw.resolve()).encode()).hexdigest()[:12]
    target = cache_dir() / "raw" / f"{dataset.folder}-{digest}"
    target.mkdir(parents=True, exist_ok=True)
    for name in names:
        if (target / name).exists():
            continue
        tmp = target / f"{name}.tmp{os.getpid()}"
        with gzip.open(raw / f"{name}.gz") as src, open(tmp, "wb") as dst:
            shutil.copyfileobj(src, dst)
        tmp.replace(target / name)
    return target


def _download(root: Path, train: bool, dataset: DataSet) -> tuple[np.ndarray, np.ndarray]:
    """Download one split with torchvision's own class for the data set (``torchvision.datasets.<folder>``)."""
    import torchvision.datasets

    loaded = getattr(torchvision.datasets, dataset.folder)(str(root), train=train, download=True)
    return loaded.data.numpy(), loaded.targets.numpy().astype(np.int64)


def _read(raw: Path, train: bool) -> tuple[np.ndarray, np.ndarray]:
    """Read one split's uncompressed files with torchvision's own IDX readers.

    ``torchvision.datasets.MNIST`` insists on all four files being present, so a folder that holds only
    the test set is read file by file.
    """
    from torchvision.datasets.mnist import read_image_file, read_label_file

    images, labels = TRAIN_FILES if train else TEST_FILES
    return read_image_file(str(raw / images)).numpy(), read_label_file(str(raw / labels)).numpy().astype(np.int64)


def _prepared_file(raw: Path, n_train: int, n_test: int) -> Path | None:
    """Where the split read from ``raw`` is kept as plain arrays, keyed by its files' names, sizes and times.

    Reading the IDX files needs torchvision, whose import costs about 2 s of every grading; once a split
    has been read, a grading loads these arrays instead. None where ``raw`` holds no data file.
    """
    files = sorted(p for p in raw.glob("*-ubyte*") if p.is_file()) if raw.is_dir() else []
    if not files:
        return None
    stamp = [(p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in files]
    key = hashlib.sha256(json.dumps([str(raw.resolve()), stamp, n_train, n_test]).encode()).hexdigest()[:24]
    return cache_dir() / "prepared" / f"split-{key}.npz"


def _read_prepared(path: Path | None) -> DigitSplit | None:
    if path is None or not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as arrays:
            return DigitSplit(*(arrays[k] for k in PREPARED_KEYS[:4]), source=str(arrays["source"]))
    except (OSError, ValueError, KeyError):
        return None  # a damaged file is read again from the data root


def _write_prepared(path: Path | None, split: DigitSplit) -> None:
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp.npz")
        arrays = dict(
            zip(
                PREPARED_KEYS[:4],
                (split.train_digits, split.train_labels, split.test_digits, split.test_labels),
                strict=True,
            )
        )
        np.savez(tmp, **arrays, source=np.array(split.source))
        tmp.replace(path)
    except OSError:
        pass  # a read-only cache only costs the next grading the read


@dataclass(frozen=True)
class DigitPools:
    """The robustness experiment's images (uint8 ``N x 28 x 28``, int64 labels).

    With the full data set: ``train_*`` is the first :data:`TRAIN_REGION` digits of the training file and ``pool_*``
    the rest of it with the whole test file (:data:`POOL_SIZE` digits a measurement draws its test sample from).
    With only the test file (``full`` false) both are the test file: each measurement splits it in secret
    (course/robustness/testdigits.py).
    """

    train_digits: np.ndarray
    train_labels: np.ndarray
    pool_digits: np.ndarray
    pool_labels: np.ndarray
    source: str
    full: bool


TRAIN_REGION = 30_000  # training digits the experiment trains on; the other 30,000 join the test pool
POOL_SIZE = 40_000  # with the full data set: 30,000 training images never trained on and the 10,000 test images
TEST_ONLY = "test set only"  # in a source's text where the training file is missing


def load_pools(
    data_root: str | os.PathLike[str] | None = None, download: bool = True, dataset: DataSet | None = None
) -> DigitPools:
    """The robustness experiment's images from the data root (see :class:`DigitPools`); raises
    :class:`DataUnavailable`. Read like :func:`load_split` (and kept in the cache as plain arrays)."""
    dataset = dataset or default_dataset()
    raw = dataset.raw_dir(resolve_data_root(data_root))
    try:
        split = load_split(data_root, n_train=60_000, n_test=10_000, download=download, dataset=dataset)
    except DataUnavailable:
        if not _has(raw, TEST_FILES):
            raise
        split = load_split(data_root, n_train=8_000, n_test=2_000, download=False, dataset=dataset)
    name = dataset.name
    if len(split.train_digits) == 60_000 and TEST_ONLY not in split.source:
        train, pool = slice(0, TRAIN_REGION), slice(TRAIN_REGION, None)
        return DigitPools(
            split.train_digits[train],
            split.train_labels[train],
            np.concatenate([split.train_digits[pool], split.test_digits]),
            np.concatenate([split.train_labels[pool], split.test_labels]),
            f"{name}: trained on its training images, tested on images drawn from {POOL_SIZE:,} never trained on",
            full=True,
        )
    digits = np.concatenate([split.train_digits, split.test_digits])
    labels = np.concatenate([split.train_labels, split.test_labels])
    return DigitPools(
        digits,
        labels,
        digits,
        labels,
        f"{name} {TEST_ONLY} (the training file is not in the data folder): its {len(digits):,} images split in "
        "secret for each measurement",
        full=False,
    )


def load_split(
    data_root: str | os.PathLike[str] | None = None,
    n_train: int = 8000,
    n_test: int = 2000,
    download: bool = True,
    dataset: DataSet | None = None,
) -> DigitSplit:
    """Images for the quadrant experiment: ``n_train`` to train on, ``n_test`` held out, from ``dataset`` (by
    default the course's).

    With the full data set present (or downloadable) training images come from the training set and test
    images from the test set; with only the test set, both come from it without overlap. A split read
    once is kept in the cache folder as plain arrays (:func:`_prepared_file`).
    """
    dataset = dataset or default_dataset()
    root = resolve_data_root(data_root)
    raw = dataset.raw_dir(root)
    prepared = _prepared_file(raw, n_train, n_test)
    split = _read_prepared(prepared)
    if split is None:
        split = _read_split(root, n_train, n_test, download, dataset)
        _write_prepared(prepared if prepared is not None else _prepared_file(raw, n_train, n_test), split)
    return split


def _read_split(root: Path, n_train: int, n_test: int, download: bool, dataset: DataSet) -> DigitSplit:
    raw, name = dataset.raw_dir(root), dataset.name
    download = download and os.environ.get(OFFLINE_ENV) != "1" and not dataset.raw
    fix = (
        "Fix: install it there, or name another folder in the course's [data] section"
        if dataset.raw
        else f"Fix: pass --data-root DIR or set {DATA_ENV}=DIR, where DIR holds {dataset.folder}/raw/ "
        "(torchvision's layout)"
    )
    if _has(raw, TRAIN_FILES) and _has(raw, TEST_FILES):
        x_train, y_train = _read(_materialise(raw, TRAIN_FILES, dataset), True)
        x_test, y_test = _read(_materialise(raw, TEST_FILES, dataset), False)
        source = f"{name}: {n_train:,} training images, {n_test:,} test images"
    elif _has(raw, TEST_FILES):
        x_all, y_all = _read(_materialise(raw, TEST_FILES, dataset), False)
        if n_train + n_test > len(x_all):
            raise DataUnavailable(f"need {n_train + n_test} images, the {name} test set has {len(x_all)}")
        x_train, y_train = x_all[:n_train], y_all[:n_train]
        x_test, y_test = x_all[-n_test:], y_all[-n_test:]
        source = (
            f"{name} {TEST_ONLY} (the training file is not in the data folder): trained on its first "
            f"{n_train:,} images, tested on its last {n_test:,}"
        )
    elif download:
        try:
            x_train, y_train = _download(root, True, dataset)
            x_test, y_test = _download(root, False, dataset)
        except Exception as exc:  # noqa: BLE001 - torchvision raises many kinds of network errors
            raise DataUnavailable(
                f"{name} is not under {raw} and could not be downloaded ({type(exc).__name__}). {fix}"
            ) from None
        source = f"{name} (downloaded): {n_train:,} training images, {n_test:,} test images"
    else:
        raise DataUnavailable(f"{name} is not under {raw}. {fix}")
    return DigitSplit(
        np.ascontiguousarray(x_train[:n_train]),
        np.ascontiguousarray(y_train[:n_train]),
        np.ascontiguousarray(x_test[:n_test]),
        np.ascontiguousarray(y_test[:n_test]),
        source,
    )
