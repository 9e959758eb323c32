"""Skeleton file formats: read them into a validated :class:`SkeletonSet`, write them back.

Supported inputs (:func:`load_skeletons` picks by path):

* ``.npz`` data set: ``data`` (N, 3, T, 18) float, ``labels`` (N,) int (1 = at risk), optional
  ``names``, ``fps``, ``subjects`` and generator extras (``planted_joints``, ``pattern``, ...). Read
  with ``allow_pickle=False``.
* a folder of OpenPose per-frame JSON files (``*_keypoints.json``; COCO-18 or BODY_25 layout), one infant.
* ``.csv``: one infant, one row per frame, columns ``<joint>_x, <joint>_y, <joint>_conf`` for the 18
  joints (optional ``frame`` column), coordinates in the canonical ``px / size - 0.5`` units.
* pyskl-style annotation pickles (``.pkl``): only with ``trust_pickle=True``, because unpickling runs
  code from the file.
* videos (``.mp4``, ``.avi``, ...), through :mod:`cp_predict.video` (optional ``video`` extra).
"""

from __future__ import annotations

import io
import json
import pickle
import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from cp_predict.data import DEFAULT_FPS, SkeletonSet, validate_skeletons
from cp_predict.skeleton import JOINT_NAMES, NUM_JOINTS
from prunelab.errors import InputError
from prunelab.io import atomic_write_bytes as _atomic_write_bytes
from prunelab.npz import check_npz

DEFAULT_IMAGE_SIZE = (640, 480)  # MINI-RGBD (width, height)
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v")
PICKLE_SUFFIXES = (".pkl", ".pickle")
CSV_COLUMNS = [f"{joint}_{axis}" for joint in JOINT_NAMES for axis in ("x", "y", "conf")]
MAX_FILE_BYTES = 512 * 1024 * 1024
MAX_ARRAY_BYTES = 1024**3  # what the arrays of one .npz may declare in all (checked before loading)

# OpenPose BODY_25 -> COCO-18: BODY_25 has MidHip at 8 and feet at 19..24; the rest is a reordering.
BODY25_TO_COCO18 = (0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18)
NPZ_META_KEYS = ("aspect", "planted_joints", "pattern", "speed", "generator")


def load_skeletons(
    path: str | Path,
    *,
    trust_pickle: bool = False,
    fps: float | None = None,
    image_size: tuple[int, int] | None = None,
) -> SkeletonSet:
    """Read any supported skeleton input (see module docstring) into a validated :class:`SkeletonSet`."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p} does not exist")
    if p.is_dir():
        return read_openpose_json_dir(p, fps=fps or DEFAULT_FPS, image_size=image_size)
    suffix = p.suffix.lower()
    if p.stat().st_size > MAX_FILE_BYTES:
        raise InputError(f"{p} is larger than {MAX_FILE_BYTES // 2**20} MiB")
    if suffix == ".npz":
        return read_npz(p)
    if suffix == ".csv":
        return read_csv(p, fps=fps)
    if suffix in PICKLE_SUFFIXES:
        return read_pyskl(p, trust_pickle=trust_pickle, fps=fps or DEFAULT_FPS)
    if suffix == ".json":
        raise InputError(f"{p}: give the folder that holds the OpenPose per-frame JSON files, not one file")
    if suffix in VIDEO_SUFFIXES:
        from cp_predict.video import extract_skeleton

        return extract_skeleton(p).skeletons
    raise InputError(f"{p}: unknown input format '{suffix}' (expected .npz, .csv, .pkl, a JSON folder or a video)")


def read_npz(path: str | Path) -> SkeletonSet:
    """Read a data-set ``.npz`` (the layout of ``mini_rgbd_openpose18.npz``); never unpickles."""
    p = Path(path)
    check_npz(p, MAX_ARRAY_BYTES)  # declared shapes and sizes from the headers, before anything is allocated
    try:
        with np.load(p, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise InputError(f"{p}: not a readable .npz data set ({_short(exc)})") from None
    if "data" not in arrays:
        raise InputError(f"{p}: no 'data' array (found: {', '.join(sorted(arrays)) or 'nothing'})")
    meta = {key: arrays[key] for key in NPZ_META_KEYS if key in arrays}
    return validate_skeletons(
        arrays["data"],
        labels=arrays.get("labels"),
        names=arrays.get("names"),
        fps=arrays["fps"] if "fps" in arrays else DEFAULT_FPS,
        subjects=arrays.get("subjects"),
        meta=meta,
        source=p.name,
    )


def save_npz(skeletons: SkeletonSet, path: str | Path) -> Path:
    """Write a data-set ``.npz`` atomically (no object arrays, so it reads back without pickle)."""
    arrays: dict[str, np.ndarray] = {
        "data": skeletons.data.astype(np.float32),
        "names": np.asarray(skeletons.names, dtype=str),
        "fps": np.asarray(skeletons.fps, dtype=np.float32),
        "subjects": np.asarray(skeletons.subjects, dtype=str),
    }
    if skeletons.labels is not None:
        arrays["labels"] = skeletons.labels.astype(np.int64)
    for key, value in skeletons.meta.items():
        arrays[key] = np.asarray(value)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return atomic_write_bytes(buffer.getvalue(), path)


def read_openpose_json_dir(
    folder: str | Path, fps: float = DEFAULT_FPS, image_size: tuple[int, int] | None = None
) -> SkeletonSet:
    """Read one infant from OpenPose per-frame JSON files (sorted by the frame number in the name).

    In frames with several people the one with the highest total confidence is taken; frames with
    nobody become missing joints (confidence 0). Pixel coordinates are divided by ``image_size``
    (default 640x480, MINI-RGBD); coordinates already in [0, 1] (OpenPose ``--keypoint_scale 3``) are kept.
    Gaps in the frame numbering (the last number in each file name) are handled by :func:`place_frames`.
    """
    folder = Path(folder)
    files = sorted(folder.glob("*.json"), key=_natural_key)
    if not files:
        raise InputError(f"{folder}: no OpenPose .json files in this folder")
    numbers = [re.findall(r"\d+", f.name) for f in files]
    slots, total, gaps = place_frames([int(n[-1]) for n in numbers] if all(numbers) else None, len(files),
                                      fps, folder.name)
    frames = np.zeros((total, NUM_JOINTS, 3), dtype=np.float32)
    for t, file in zip(slots, files, strict=True):
        try:
            doc = json.loads(file.read_text())
            people = doc["people"]
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
            raise InputError(f"{file.name}: not an OpenPose keypoint JSON file ({_short(exc)})") from None
        if not isinstance(people, list):
            raise InputError(f"{file.name}: not an OpenPose keypoint JSON file ('people' is a "
                             f"{type(people).__name__}, not a list)")
        best = None
        for person in people:
            try:
                kp = np.asarray(person.get("pose_keypoints_2d", []), dtype=np.float64).reshape(-1)
            except (AttributeError, TypeError, ValueError) as exc:
                raise InputError(f"{file.name}: a person's pose_keypoints_2d is not a list of numbers "
                                 f"({_short(exc)})") from None
            if kp.size not in (NUM_JOINTS * 3, 25 * 3):
                raise InputError(f"{file.name}: pose_keypoints_2d has {kp.size} numbers (expected 54 for COCO-18 "
                                 "or 75 for BODY_25)")
            kp = kp.reshape(-1, 3)
            if len(kp) == 25:
                kp = kp[list(BODY25_TO_COCO18)]
            if best is None or kp[:, 2].sum() > best[:, 2].sum():
                best = kp
        if best is not None:
            frames[t] = best
    xy, conf = frames[..., :2].astype(np.float64), frames[..., 2]
    if not np.isfinite(xy).all():
        raise InputError(f"{folder}: keypoints contain NaN/inf")
    seen = conf > 0
    if seen.any() and np.abs(xy[seen]).max() <= 1.0:
        norm = xy - 0.5  # already normalised to [0, 1]
    else:
        width, height = image_size or DEFAULT_IMAGE_SIZE
        if seen.any() and (xy[seen][:, 0].max() > width * 1.05 or xy[seen][:, 1].max() > height * 1.05):
            raise InputError(f"{folder}: keypoints lie outside a {width}x{height} image; give the video's size "
                             "({option})", option="image_size")
        norm = xy / np.array([width, height]) - 0.5
    norm[~seen] = 0.0
    data = np.concatenate([norm, conf[..., None]], axis=-1).transpose(2, 0, 1)  # (3, T, V)
    width, height = image_size or DEFAULT_IMAGE_SIZE
    return validate_skeletons(data[None], names=[folder.name], fps=fps,
                              meta={"aspect": width / height, "frame_gaps": json.dumps(gaps)}, source=folder.name)


MAX_GAP_S = 0.4  # a run of missing frame numbers up to this long is filled by interpolation; longer is refused
MAX_MISSING_FRACTION = 0.2  # more missing frame numbers than this (in all) is refused


def place_frames(numbers: list[int] | None, count: int, fps: float, source: str
                 ) -> tuple[list[int], int, dict[str, Any]]:
    """Where each of ``count`` frames goes, the recording's true length and a report of the gaps.

    ``numbers``: each frame's number (``None``: no numbers, frames taken as consecutive). Missing numbers
    become frames with every joint missing (confidence 0), which pre-processing interpolates - up to
    :data:`MAX_GAP_S` per run and :data:`MAX_MISSING_FRACTION` in all; beyond that the input is refused
    (``InputError``), because joining the frames up would compress time and fake the movement.
    """
    if numbers is None:
        return list(range(count)), count, {"checked": False, "inserted_frames": 0,
                                           "note": "file names carry no frame numbers; frames taken as consecutive"}
    arr = np.asarray(numbers)
    if len(np.unique(arr)) != len(arr):
        raise InputError(f"{source}: frame number {int(arr[np.argmax(np.bincount(arr - arr.min()))])} "
                         "appears in more than one file")
    slots = (arr - arr.min()).tolist()
    total = int(arr.max() - arr.min()) + 1
    runs = np.diff(np.sort(arr)) - 1
    longest = int(runs.max()) if len(runs) else 0
    missing = total - count
    limit = int(round(MAX_GAP_S * fps))
    if longest > limit:
        start = int(np.sort(arr)[np.argmax(runs)]) + 1
        raise InputError(f"{source}: frames {start}-{start + longest - 1} are missing ({longest / fps:.1f} s); at most "
                         f"{MAX_GAP_S:g} s ({limit} frames) in a row can be interpolated")
    if missing > MAX_MISSING_FRACTION * total:
        raise InputError(f"{source}: {missing} of {total} frame numbers are missing ({100 * missing / total:.0f}%); "
                         f"at most {100 * MAX_MISSING_FRACTION:.0f}% can be interpolated")
    return slots, total, {"checked": True, "inserted_frames": int(missing), "longest_missing_run": longest,
                          "max_interpolated_run": limit,
                          "note": f"missing frame numbers are interpolated up to {MAX_GAP_S:g} s in a row"}


def read_csv(path: str | Path, fps: float | None = None) -> SkeletonSet:
    """Read one infant from a CSV with a header naming ``<joint>_x/_y/_conf`` columns (see module docstring).

    The frame rate is ``fps`` if given, else a ``# fps=<value>`` comment line (as :func:`write_csv`
    writes), else 25.
    """
    p = Path(path)
    try:
        lines = p.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{p.name}: cannot read CSV ({_short(exc)})") from None
    if fps is None:
        found = [m.group(1) for line in lines if (m := re.match(r"\s*#\s*fps\s*=\s*(\S+)", line))]
        fps = found[0] if found else DEFAULT_FPS
    lines = [line for line in lines if line.strip() and not line.lstrip().startswith("#")]
    if len(lines) < 2:
        raise InputError(f"{p.name}: CSV needs a header row and at least one frame")
    header = [h.strip() for h in lines[0].split(",")]
    missing = [c for c in CSV_COLUMNS if c not in header]
    if missing:
        raise InputError(f"{p.name}: CSV lacks {len(missing)} columns, e.g. '{missing[0]}' "
                         "(expected <joint>_x, <joint>_y, <joint>_conf for the 18 COCO joints)")
    try:
        rows = np.array([[float(v) for v in line.split(",")] for line in lines[1:]], dtype=np.float64)
    except ValueError as exc:
        raise InputError(f"{p.name}: CSV has a non-numeric value ({_short(exc)})") from None
    if rows.ndim != 2 or rows.shape[1] != len(header):
        raise InputError(f"{p.name}: every CSV row must have {len(header)} values")
    cols = [header.index(c) for c in CSV_COLUMNS]
    values = rows[:, cols].reshape(-1, NUM_JOINTS, 3)
    meta: dict[str, Any] = {}
    if "frame" in header:  # frame numbers: gaps are filled (then interpolated) or refused, see place_frames
        numbers = rows[:, header.index("frame")]
        if not np.all(numbers == np.round(numbers)):
            raise InputError(f"{p.name}: the frame column must hold whole frame numbers")
        rate = float(fps) if _is_number(fps) else DEFAULT_FPS
        slots, total, gaps = place_frames(numbers.astype(np.int64).tolist(), len(rows), rate, p.name)
        placed = np.zeros((total, NUM_JOINTS, 3))
        placed[slots] = values
        values = placed
        meta["frame_gaps"] = json.dumps(gaps)
    data = values.transpose(2, 0, 1)
    return validate_skeletons(data[None], names=[p.stem], fps=fps, meta=meta, source=p.name)


def _is_number(value: Any) -> bool:
    try:
        return np.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def write_csv(skeletons: SkeletonSet, index: int, path: str | Path) -> Path:
    """Write infant ``index`` as a CSV that :func:`read_csv` reads back exactly (float32 precision)."""
    seq = skeletons.data[index].transpose(1, 2, 0).reshape(skeletons.num_frames, -1)  # (T, V*3)
    lines = [f"# fps={skeletons.fps:g}", ",".join(["frame", *CSV_COLUMNS])]
    lines += [",".join([str(t), *(repr(float(v)) for v in row)]) for t, row in enumerate(seq)]
    return atomic_write_bytes(("\n".join(lines) + "\n").encode(), path)


def read_pyskl(path: str | Path, trust_pickle: bool = False, fps: float = DEFAULT_FPS) -> SkeletonSet:
    """Read a pyskl-style annotation pickle (``{"annotations": [...]}`` or a bare list).

    Each annotation needs ``keypoint`` (M, T, 18, 2) in pixels, ``keypoint_score`` (M, T, 18) and
    ``img_shape`` (h, w); the first person (M index 0) is used; ``label`` and ``frame_dir`` are read when
    present. All annotations must have the same number of frames. Unpickling executes code from the
    file, so this refuses unless ``trust_pickle`` is set.
    """
    p = Path(path)
    if not trust_pickle:
        raise InputError(f"{p.name}: refusing to unpickle (it can run code); pass {{option}} only for files "
                         "you trust", option="trust_pickle")
    try:
        with open(p, "rb") as fh:
            obj = pickle.load(fh)  # noqa: S301 - explicit opt-in above
    except Exception as exc:  # noqa: BLE001 - any unpickling failure is bad input
        raise InputError(f"{p.name}: not a readable pickle ({_short(exc)})") from None
    annotations = obj.get("annotations") if isinstance(obj, dict) else obj
    if not isinstance(annotations, list) or not annotations:
        raise InputError(f"{p.name}: expected a pyskl annotation list (or a dict with 'annotations')")
    seqs, labels, names, aspects = [], [], [], set()
    for i, ann in enumerate(annotations):
        try:
            kp = np.asarray(ann["keypoint"], dtype=np.float64)[0]
            score = np.asarray(ann["keypoint_score"], dtype=np.float64)[0]
            height, width = ann.get("img_shape", DEFAULT_IMAGE_SIZE[::-1])
        except (KeyError, TypeError, IndexError, ValueError) as exc:
            raise InputError(f"{p.name}: annotation #{i} lacks keypoint/keypoint_score ({_short(exc)})") from None
        if kp.ndim != 3 or kp.shape[1:] != (NUM_JOINTS, 2) or score.shape != kp.shape[:2]:
            raise InputError(f"{p.name}: annotation #{i} keypoint shape {kp.shape} is not (T, 18, 2)")
        xy = kp / np.array([width, height]) - 0.5
        aspects.add(round(width / height, 6))
        xy[score <= 0] = 0.0
        seqs.append(np.concatenate([xy, score[..., None]], axis=-1).transpose(2, 0, 1))
        labels.append(ann.get("label"))
        names.append(str(ann.get("frame_dir", f"infant_{i:03d}")))
    lengths = sorted({s.shape[1] for s in seqs})
    if len(lengths) > 1:
        raise InputError(f"{p.name}: annotations have different lengths {lengths[:5]}; split them into files")
    has_labels = all(label is not None for label in labels)
    if len(aspects) > 1:
        raise InputError(f"{p.name}: annotations come from images of different shapes; split them into files")
    return validate_skeletons(np.stack(seqs), labels=labels if has_labels else None, names=names, fps=fps,
                              meta={"aspect": aspects.pop()}, source=p.name)


def write_pyskl(skeletons: SkeletonSet, path: str | Path, image_size: tuple[int, int] = DEFAULT_IMAGE_SIZE) -> Path:
    """Write a pyskl-style annotation pickle (for tools that read that layout), pixels of ``image_size``."""
    width, height = image_size
    annotations = []
    for i in range(len(skeletons)):
        xy = (skeletons.data[i, :2].transpose(1, 2, 0) + 0.5) * np.array([width, height], dtype=np.float32)
        ann = {"frame_dir": skeletons.names[i], "img_shape": (height, width), "original_shape": (height, width),
               "total_frames": skeletons.num_frames, "keypoint": xy[None].astype(np.float32),
               "keypoint_score": skeletons.data[i, 2][None].astype(np.float32)}
        if skeletons.labels is not None:
            ann["label"] = int(skeletons.labels[i])
        annotations.append(ann)
    payload = {"split": {"all": list(skeletons.names)}, "annotations": annotations}
    return atomic_write_bytes(pickle.dumps(payload), path)


def atomic_write_bytes(payload: bytes, path: str | Path) -> Path:
    """Write bytes to a temporary file beside ``path`` and rename it over ``path`` (follows the umask; a failed
    write raises :class:`~prunelab.errors.OutputError` naming ``path``)."""
    return _atomic_write_bytes(payload, path)


def _natural_key(path: Path) -> list[Any]:
    return [int(tok) if tok.isdigit() else tok for tok in re.split(r"(\d+)", path.name)]


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:160]
