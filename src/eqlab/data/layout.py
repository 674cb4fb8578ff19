"""What ``data/raw/`` must hold for each real source, and the one rule that picks a dataset's source.

Each real source lives in one folder under ``data/raw``::

    mnist/                 the four MNIST IDX files (each may end in .gz)            source mnist_idx
    mnist_rotation_new/    the two Larochelle .amat files                            source amat
    tiny-imagenet-200/     wnids.txt, train/<wnid>/images/, val/images/, val/val_annotations.txt
    kth_tips/              <class>/ folders of texture images (at least two)         source kth_tips

``source: auto`` takes the first *complete* source in the dataset's order of preference, and the
embedded stand-in only when ``data/raw`` holds **nothing** of any of them. Something is present when
the source's folder exists (even empty: creating it says the data was meant to be there), or when one
of its files or a look-alike folder or archive sits elsewhere in ``data/raw`` (IDX files at the top,
``.amat`` files in ``mnist/``, ``KTH_TIPS/``, ``tiny-imagenet-200.zip``, ...). Anything present but
incomplete or misplaced raises :class:`RawDataError` naming what is missing and where it was looked
for; an explicit source raises the same, and also when its folder does not exist.

OS and archive junk (names starting with ``.`` such as ``.DS_Store``, ``._*``, ``.gitkeep``;
``Thumbs.db``, ``desktop.ini``, ``__MACOSX/``) is never taken for data: it is not a data file, a
class folder or an image, and is not listed as found. It does not make a source absent either: a
source's folder that holds only junk is an empty folder, hence an error.

TinyImageNet unpacked one level too deep (``tiny-imagenet-200/tiny-imagenet-200/wnids.txt``: the
outer folder holds nothing but one folder named like the dataset) is read where it is.
These are existence checks plus reading ``wnids.txt``: cheap enough for ``eqlab validate``, which
calls :func:`choose` exactly as the ``make_dataset`` stages do.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from eqlab.params import RawDataError

log = logging.getLogger(__name__)

IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
AMAT_FILES = {
    "train": "mnist_all_rotation_normalized_float_train_valid.amat",
    "test": "mnist_all_rotation_normalized_float_test.amat",
}
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
JUNK = frozenset({"Thumbs.db", "desktop.ini", "__MACOSX"})
ARCHIVE = re.compile(r"\.(zip|tar|tgz|tar\.gz|tar\.bz2|tar\.xz|7z|rar)$", re.IGNORECASE)
README = "see data/raw/README.md"


def is_junk(name: str) -> bool:
    """Hidden files and OS/archive leftovers that never count as data."""
    return name.startswith(".") or name in JUNK


def entries(folder: Path) -> list[Path]:
    """The non-junk entries of ``folder``, sorted by name; none when it is not a folder."""
    return sorted(p for p in folder.iterdir() if not is_junk(p.name)) if folder.is_dir() else []


def utf8_text(path: Path) -> str:
    """The text of ``path``, which must be UTF-8 (ASCII included); errors name the file."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise RawDataError(f"{path}: not UTF-8 text (byte 0x{e.object[e.start]:02x} at offset {e.start})") from e
    except OSError as e:
        raise RawDataError(f"{path}: cannot read ({e})") from e


def _missing_idx(d: Path) -> list[str]:
    return [f"{s}[.gz]" for s in IDX_FILES.values() if not ((d / s).is_file() or (d / f"{s}.gz").is_file())]


def _missing_amat(d: Path) -> list[str]:
    return [s for s in AMAT_FILES.values() if not (d / s).is_file()]


def _missing_tim(d: Path) -> list[str]:
    need = {
        "wnids.txt": (d / "wnids.txt").is_file(),
        "train/": (d / "train").is_dir(),
        "val/images/": (d / "val" / "images").is_dir(),
        "val/val_annotations.txt": (d / "val" / "val_annotations.txt").is_file(),
    }
    out = [name for name, ok in need.items() if not ok]
    if need["wnids.txt"]:
        wnids = utf8_text(d / "wnids.txt").split()
        if not wnids:
            out.append("the wnids in wnids.txt (it is empty)")
        elif need["train/"]:
            absent = [w for w in wnids if not (d / "train" / w / "images").is_dir()]
            if absent:
                out.append(
                    f"train/<wnid>/images/ for {len(absent)} of the {len(wnids)} wnids in wnids.txt "
                    f"(first: train/{absent[0]}/images/)"
                )
    return out


def _missing_kth(d: Path) -> list[str]:
    classes = [p for p in entries(d) if p.is_dir()]
    out = [] if len(classes) >= 2 else [f"at least two <class>/ folders of texture images (found {len(classes)})"]
    for c in classes:
        if not any(p.suffix.lower() in IMAGE_SUFFIXES for p in entries(c)):
            out.append(f"images in {c.name}/ ({', '.join(IMAGE_SUFFIXES)})")
    return out


@dataclass(frozen=True)
class RawSource:
    """One real source: its folder under ``data/raw`` and how to tell it is complete or misplaced."""

    name: str  # the params value, e.g. ``mnist_idx``
    title: str
    folder: str
    look_alike: str  # regex on a normalised name (lower case, letters and digits) meaning this folder
    markers: frozenset[str]  # file names of this source: found elsewhere in data/raw, they are misplaced
    missing: Callable[[Path], list[str]]  # what a folder lacks; empty when complete
    nested_ok: bool = False  # read the tree one level down when that is all the folder holds


SOURCES: dict[str, RawSource] = {
    s.name: s
    for s in (
        RawSource(
            "mnist_idx",
            "MNIST IDX files",
            "mnist",
            "mnist",
            frozenset(n for s in IDX_FILES.values() for n in (s, f"{s}.gz")),
            _missing_idx,
        ),
        RawSource(
            "amat",
            "mnist_rotation_new .amat files",
            "mnist_rotation_new",
            "mnistrotation.*",
            frozenset(AMAT_FILES.values()),
            _missing_amat,
        ),
        RawSource(
            "tinyimagenet",
            "TinyImageNet",
            "tiny-imagenet-200",
            "tinyimagenet.*",
            frozenset({"wnids.txt", "words.txt", "val_annotations.txt"}),
            _missing_tim,
            nested_ok=True,
        ),
        RawSource("kth_tips", "KTH-TIPS textures", "kth_tips", "kthtips.*", frozenset(), _missing_kth),
    )
}


def _looks_like(src: RawSource, name: str) -> bool:
    return re.fullmatch(src.look_alike, re.sub(r"[^a-z0-9]", "", ARCHIVE.sub("", name).lower())) is not None


def _listed(items: list[str], limit: int = 6) -> str:
    return ", ".join(items[:limit]) + (f", … ({len(items)} in all)" if len(items) > limit else "")


def _misplaced(raw_root: Path, src: RawSource) -> list[Path]:
    """Files of ``src`` at the top of ``raw_root`` or in another source's folder, and look-alike folders."""
    found = [
        p for p in entries(raw_root) if p.name in src.markers or (p.name != src.folder and _looks_like(src, p.name))
    ]
    for other in SOURCES.values():
        if other.folder != src.folder:
            found += [p for p in entries(raw_root / other.folder) if p.name in src.markers]
    return found


def locate(raw_root: Path, name: str) -> Path | None:
    """The folder holding the complete source ``name``, or None when ``raw_root`` holds nothing of it.

    Raises :class:`RawDataError` when its folder is incomplete or something of it is misplaced.
    """
    src = SOURCES[name]
    folder = raw_root / src.folder
    if folder.exists() and not folder.is_dir():
        raise RawDataError(f"{folder} should be a folder holding the {src.title} ({README})")
    if not folder.exists():
        stray = _misplaced(raw_root, src)
        if stray:
            raise RawDataError(
                f"misplaced {src.title}: found {_listed([str(p) for p in stray])}, but source '{name}' "
                f"reads {folder}/ only; move, rename or extract it there ({README})"
            )
        return None
    inside = entries(folder)
    if src.nested_ok and len(inside) == 1 and inside[0].is_dir() and _looks_like(src, inside[0].name):
        log.info("%s: reading the %s one level down, in %s", folder, src.title, inside[0])
        folder, inside = inside[0], entries(inside[0])
    missing = src.missing(folder)
    if missing:
        names = [p.name + ("/" if p.is_dir() else "") for p in inside]
        found = f"found {_listed(names)}" if inside else "the folder is empty"
        raise RawDataError(
            f"incomplete {src.title} in {folder}: missing {', '.join(missing)} ({found}); "
            f"complete it or remove it ({README})"
        )
    return folder


def choose(raw_root: Path, requested: str, preference: tuple[str, ...]) -> tuple[str, Path | None]:
    """The source to build from and its folder (None for ``embedded``).

    ``requested`` is ``embedded``, a real source (its folder must be complete), or ``auto``: every
    source in ``preference`` is looked for, the first complete one wins, and ``embedded`` only when
    ``raw_root`` holds nothing of any of them.
    """
    if requested == "embedded":
        return "embedded", None
    if requested != "auto":
        if requested not in SOURCES:
            raise ValueError(f"unknown raw source {requested!r}; allowed values: {sorted(SOURCES)}")
        folder = locate(raw_root, requested)
        if folder is None:
            src = SOURCES[requested]
            raise RawDataError(
                f"source '{requested}' needs the {src.title} in {raw_root / src.folder}/, "
                f"which does not exist ({README})"
            )
        return requested, folder
    found = [(name, locate(raw_root, name)) for name in preference]
    return next(((name, folder) for name, folder in found if folder is not None), ("embedded", None))


def layout_problems(raw_root: Path, requested: str, preference: tuple[str, ...]) -> list[str]:
    """Every reason :func:`choose` would refuse, not only the first it meets (for ``eqlab validate``)."""
    out = []
    for name in preference if requested == "auto" else (requested,):
        try:
            if requested == "auto":
                locate(raw_root, name)
            else:
                choose(raw_root, name, preference)
        except (RawDataError, ValueError) as e:
            out.append(str(e))
    return out
