"""Synthetic infant movement generator: a kinematic OpenPose-18 infant lying supine.

Why: MINI-RGBD has 12 infants and is nearly separable by mean limb speed alone, so it cannot show
whether a model learned *movement quality*. This generator produces data where the label lives in the
structure of the movement, not its amount:

* **normal ("fidgety")**: larger, slower limb movements (0.1-0.8 Hz, in bouts) with continual small,
  moderate-speed, variable fidgety movements (1-4 Hz, amplitude-modulated) on top, every limb and head
  degree of freedom driven independently;
* **at risk, absent fidgety**: the larger movements only, in a narrower, more monotonous band;
* **at risk, cramped-synchronised**: one common, quasi-periodic signal drives all limbs together
  (flexing and extending at once) with little independent movement;
* **at risk, unilateral** (hemiplegic-like): absent-fidgety dynamics in one side's arm and leg only, normal
  movement on the other side (the side is recorded as ``affected_side``); 40 / 30 / 30 % of at-risk infants
  are absent-fidgety / cramped / unilateral.

At-risk infants mix the abnormal pattern with a normal one (severity 0.65-1), so classes overlap a little.
**Overall movement speed is drawn independently of the label**: after the movement is built, each
infant's movement amplitude is rescaled so its clean mean end-effector speed equals a speed drawn from
one log-normal for everybody; a mean-speed threshold therefore carries (almost) no label information.

Rendering: forward kinematics of a 2-D stick body (segment lengths and rest posture jittered per infant;
limb elevation shortens the projected segments), placed in a 640x480 image with random size, position and
roll, then pose-estimator artefacts: Gaussian jitter, per-joint confidence, drop-outs (confidence 0 and
coordinates 0, like OpenPose) in runs, and occasional whole-body left/right label swaps.

The constants marked *calibrated* were set so the generator's summary statistics match those of the
MINI-RGBD skeletons (see ``benchmarks/cp_generator_calibration.py``, which prints both side by side);
no MINI-RGBD data is stored here, only these summary numbers.

``planted_joints``: the abnormal dynamics of at-risk infants are planted in the listed joints only; the list
is saved in the file, so explanation methods can be scored by whether they find those joints. The planted
joints of *every* infant move according to a second, independent draw (abnormal for at-risk infants,
normal with its own speed for the others) and all other joints according to a normal draw: so the label
is carried by the planted joints alone - not even a contrast between planted and other joints (e.g. a
wrist that lacks the fidgety movement its elbow has) reveals it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from cp_predict.data import SkeletonSet, validate_skeletons
from cp_predict.skeleton import FLIP_PERMUTATION, JOINT_INDEX, JOINT_NAMES, LIMBS, NUM_JOINTS
from prunelab.errors import InputError

PATTERNS = ("fidgety", "absent_fidgety", "cramped_synchronised", "unilateral")
UNILATERAL_SIDES = ("r", "l")
# Share of at-risk infants per abnormal pattern (absent fidgety, cramped-synchronised, unilateral).
AT_RISK_PATTERN_SHARES = (0.4, 0.3, 0.3)
DEFAULT_PLANTED = ("l_wrist", "l_ankle")  # the distal left side (a hemiplegic-like pattern); used by benchmarks
IMAGE_SIZE = (640, 480)

# Rest posture in the body frame (trunk lengths; origin at the neck, +y towards the hips, +x towards the
# infant's left = image right for a supine infant seen from above). *Calibrated*: MINI-RGBD median offsets.
HEAD_REST = {"nose": (0.02, -0.42), "r_eye": (-0.08, -0.51), "l_eye": (0.12, -0.51),
             "r_ear": (-0.30, -0.36), "l_ear": (0.32, -0.36)}
SHOULDER_HALF_WIDTH = 0.35  # calibrated: shoulder width / trunk length = 0.70
HIP_HALF_WIDTH = 0.215  # calibrated: hip width / trunk length = 0.43
SEGMENTS = {"arm": (0.42, 0.36), "leg": (0.50, 0.62)}  # calibrated: upper/lower segment / trunk length
# Rest angles (deg): proximal segment from +y towards the outside, distal relative to it, elevations.
REST_ANGLES = {"arm": (55.0, 35.0, 35.0, 30.0), "leg": (40.0, -65.0, 35.0, 20.0)}
DOF_GAIN = np.array([1.0, 0.8, 0.6, 0.5])  # relative amplitude of (theta1, theta2, elev1, elev2)

# Image placement and artefacts (*calibrated* against MINI-RGBD).
TRUNK_PX = (106.0, 8.5)  # mean, sd of the trunk length in pixels
CENTRE_PX = ((-30.0, 38.0), (-15.0, 32.0))  # (mean, sd) of the trunk centre x and y relative to the image centre
ROLL_DEG = (-7.0, 9.0)  # body roll in the image: mean, sd
SPEED_LOG = (np.log(0.72), 0.45)  # clean mean end-effector speed (trunk lengths / s): log-normal mu, sigma
JITTER_PX = 0.45  # detector noise (sd, pixels) on the head and trunk
LIMB_JITTER_FACTOR = 3.0  # elbows, wrists, knees, ankles are detected less precisely
GLITCH_RATE, GLITCH_PX = 0.012, 18.0  # per limb joint and frame: chance and size (sd) of a one-to-two-frame jump
# Per-joint mean confidence and fraction of frames dropped (confidence 0), COCO-18 order.
MEAN_CONF = np.array([0.88, 0.84, 0.76, 0.76, 0.76, 0.77, 0.72, 0.71, 0.63, 0.68, 0.66, 0.63, 0.68, 0.63,
                      0.82, 0.87, 0.50, 0.66])
DROP_FRACTION = np.array([0.002, 0.002, 0.002, 0.005, 0.012, 0.002, 0.007, 0.018, 0.002, 0.025, 0.036,
                          0.002, 0.029, 0.043, 0.009, 0.002, 0.30, 0.14])
DROP_RUN_MEAN = 6.0  # mean length of a drop-out run (frames)
SWAP_INFANT_FRACTION = 0.17  # infants with left/right label swaps (2 of 12 in MINI-RGBD)
SWAP_FRAME_FRACTION = (0.05, 0.16)  # fraction of their frames swapped


@dataclass(frozen=True)
class GeneratorConfig:
    """Everything that defines a generated data set (saved as JSON inside the ``.npz``)."""

    n: int = 200
    seed: int = 0
    frames: int = 300
    fps: float = 25.0
    at_risk_fraction: float = 0.5
    planted_joints: tuple[str, ...] = ()
    severity: tuple[float, float] = (0.65, 1.0)
    noise: bool = True

    def validate(self) -> None:
        if not 1 <= self.n <= 100_000:
            raise InputError(f"{{option}} must be 1..100000, got {self.n}", option="n")
        if not 100 <= self.frames <= 25 * 60 * 10:
            raise InputError(f"{{option}} must be 100..15000, got {self.frames}", option="frames")
        if not 5 <= self.fps <= 240:
            raise InputError(f"{{option}} must be 5..240, got {self.fps:g}", option="fps")
        if not 0 <= self.at_risk_fraction <= 1:
            raise InputError(f"{{option}} must be in [0, 1], got {self.at_risk_fraction:g}", option="at_risk_fraction")
        unknown = [j for j in self.planted_joints if j not in JOINT_INDEX]
        if unknown:
            raise InputError(f"unknown joint {unknown[0]!r} in {{option}} (joints: {', '.join(JOINT_NAMES)})",
                             option="planted_joints")
        trunk = {"neck", "r_hip", "l_hip", "r_shoulder", "l_shoulder"} & set(self.planted_joints)
        if trunk:
            raise InputError(f"cannot plant in trunk joint {sorted(trunk)[0]!r}: it anchors normalisation")


def bandlimited(rng: np.random.Generator, shape: tuple[int, ...], fps: float, band: tuple[float, float]) -> np.ndarray:
    """Gaussian noise restricted to ``band`` Hz along the last axis, scaled to unit standard deviation."""
    t = shape[-1]
    spec = np.fft.rfft(rng.standard_normal(shape), axis=-1)
    freqs = np.fft.rfftfreq(t, d=1.0 / fps)
    spec[..., (freqs < band[0]) | (freqs > band[1])] = 0
    sig = np.fft.irfft(spec, n=t, axis=-1)
    return sig / np.maximum(sig.std(axis=-1, keepdims=True), 1e-12)


# Coupling of the normal infant's limbs (*calibrated*: the generator's median cross-limb and left/right
# speed correlations inside MINI-RGBD's 10th-90th percentiles; before this coupling they were 0.02 / 0.03,
# below MINI-RGBD's 0.04 / 0.06 tenth percentiles). Activity bouts: whole-body, bilateral-pair (both arms,
# both legs) and per-limb drives; movement: per-limb, bilateral-pair and whole-body components.
BOUT_WEIGHTS = (1.5, 1.5, 0.5)  # body, pair, own limb
PAIR_MOVEMENT, BODY_MOVEMENT = 2.5, 1.5  # relative to the per-limb 0.6 (shared DOFs) and 0.8 (own DOF)
MODULATION_WEIGHTS = (1.5, 1.5, 0.3)  # fidgety amplitude modulation: body, pair, own DOF


def _normal_dofs(rng: np.random.Generator, n: int, t: int, fps: float) -> np.ndarray:
    """Fidgety movement for ``n`` infants: ``(n, 18, T)`` DOF deviations (16 limb DOFs, head yaw/tilt)."""
    shared = np.repeat(bandlimited(rng, (n, 4, t), fps, (0.1, 0.8)), 4, axis=1)  # one per limb
    own = bandlimited(rng, (n, 16, t), fps, (0.1, 0.8))
    pair = np.repeat(bandlimited(rng, (n, 2, t), fps, (0.1, 0.8))[:, [0, 0, 1, 1]], 4, axis=1)  # arms, legs
    body = bandlimited(rng, (n, 1, t), fps, (0.1, 0.8))
    # Activity bouts are partly shared by the limbs (an infant is more or less active as a whole, and the two
    # arms / the two legs more so).
    wb, wp, wo = BOUT_WEIGHTS
    drive = (wb * bandlimited(rng, (n, 1, t), fps, (0.02, 0.2))
             + wp * bandlimited(rng, (n, 2, t), fps, (0.02, 0.2))[:, [0, 0, 1, 1]]
             + wo * bandlimited(rng, (n, 4, t), fps, (0.02, 0.2)))
    bouts = np.repeat(0.05 + 0.95 / (1 + np.exp(-4.0 * drive)), 4, axis=1)
    # Normalised to the variance of the uncoupled 0.6 * shared + 0.8 * own, so the fidgety share stays as it was.
    scale = np.sqrt(0.6**2 + 0.8**2 + PAIR_MOVEMENT**2 + BODY_MOVEMENT**2)
    large = (0.6 * shared + 0.8 * own + PAIR_MOVEMENT * pair + BODY_MOVEMENT * body) / scale * bouts
    # The fidgety movements' amplitude waxes and wanes partly together (body, bilateral pair, own DOF).
    wave = (MODULATION_WEIGHTS[0] * bandlimited(rng, (n, 1, t), fps, (0.05, 0.5))
            + MODULATION_WEIGHTS[1] * np.repeat(bandlimited(rng, (n, 2, t), fps, (0.05, 0.5))[:, [0, 0, 1, 1]], 4,
                                                axis=1)
            + MODULATION_WEIGHTS[2] * bandlimited(rng, (n, 16, t), fps, (0.05, 0.5)))
    modulation = 0.6 + 0.4 * wave / np.sqrt(np.sum(np.square(MODULATION_WEIGHTS)))
    fidgety = bandlimited(rng, (n, 16, t), fps, (1.0, 4.0)) * modulation
    kappa = rng.uniform(0.12, 0.3, (n, 1, 1))  # fidgety amplitude relative to the large movements
    limbs = large + kappa * fidgety
    head = 0.6 * bandlimited(rng, (n, 2, t), fps, (0.05, 0.6)) + kappa * bandlimited(rng, (n, 2, t), fps, (1.0, 4.0))
    return np.concatenate([limbs, head], axis=1)


def _absent_fidgety_dofs(rng: np.random.Generator, n: int, t: int, fps: float) -> np.ndarray:
    """Large, monotonous movements only (narrow band, little amplitude variation), no fidgety component."""
    shared = np.repeat(bandlimited(rng, (n, 4, t), fps, (0.2, 0.55)), 4, axis=1)
    own = bandlimited(rng, (n, 16, t), fps, (0.2, 0.55))
    limbs = 0.6 * shared + 0.8 * own + 0.02 * bandlimited(rng, (n, 16, t), fps, (1.0, 4.0))
    head = 0.6 * bandlimited(rng, (n, 2, t), fps, (0.05, 0.4))
    return np.concatenate([limbs, head], axis=1)


def _cramped_dofs(rng: np.random.Generator, n: int, t: int, fps: float) -> np.ndarray:
    """One common quasi-periodic drive for all limbs (flex/extend together) plus a little independent motion."""
    common = bandlimited(rng, (n, 1, t), fps, (0.3, 0.65))
    gains = np.abs(rng.normal(1.0, 0.15, (n, 16, 1)))
    own = bandlimited(rng, (n, 16, t), fps, (0.1, 0.8))
    limbs = gains * common + 0.25 * own + 0.02 * bandlimited(rng, (n, 16, t), fps, (1.0, 4.0))
    head = 0.3 * common[:, [0, 0]] + 0.3 * bandlimited(rng, (n, 2, t), fps, (0.05, 0.4))
    return np.concatenate([limbs, head], axis=1)


def _body(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Per-infant anatomy and rest posture (trunk-length units, radians)."""
    size = lambda base, sd=0.07: base * rng.normal(1.0, sd, n)  # noqa: E731
    body = {
        "shoulder": size(SHOULDER_HALF_WIDTH), "hip": size(HIP_HALF_WIDTH),
        "arm1": size(SEGMENTS["arm"][0]), "arm2": size(SEGMENTS["arm"][1]),
        "leg1": size(SEGMENTS["leg"][0]), "leg2": size(SEGMENTS["leg"][1]),
    }
    for kind in ("arm", "leg"):
        rest = np.deg2rad(np.array(REST_ANGLES[kind]))
        for side in ("r", "l"):
            body[f"{side}_{kind}_rest"] = rest[None, :] + np.deg2rad(rng.normal(0, 12, (n, 4)))
    body["head_rest"] = np.array([HEAD_REST[k] for k in ("nose", "r_eye", "l_eye", "r_ear", "l_ear")])
    return body


def forward_kinematics(body: dict[str, np.ndarray], dofs: np.ndarray) -> np.ndarray:
    """Body-frame joint positions ``(n, 2, T, 18)`` from DOF deviations ``(n, 18, T)`` (radians)."""
    n, _, t = dofs.shape
    pos = np.zeros((n, 2, t, NUM_JOINTS))
    j = JOINT_INDEX
    pos[:, 1, :, j["neck"]] = 0.0
    for side, sign in (("r", -1.0), ("l", 1.0)):
        pos[:, 0, :, j[f"{side}_shoulder"]] = (sign * body["shoulder"])[:, None]
        pos[:, 1, :, j[f"{side}_shoulder"]] = 0.0
        pos[:, 0, :, j[f"{side}_hip"]] = (sign * body["hip"])[:, None]
        pos[:, 1, :, j[f"{side}_hip"]] = 1.0
    for k, (limb, (prox, mid, dist)) in enumerate(LIMBS.items()):
        side, kind = limb.split("_")
        sign = -1.0 if side == "r" else 1.0
        rest = body[f"{side}_{kind}_rest"][:, :, None]  # (n, 4, 1)
        ang = rest + DOF_GAIN[None, :, None] * dofs[:, 4 * k:4 * k + 4]
        theta1, theta2 = ang[:, 0], ang[:, 0] + ang[:, 1]
        fore1, fore2 = np.cos(np.clip(ang[:, 2], -1.3, 1.3)), np.cos(np.clip(ang[:, 3], -1.3, 1.3))
        l1, l2 = body[f"{kind}1"][:, None], body[f"{kind}2"][:, None]
        pos[:, 0, :, mid] = pos[:, 0, :, prox] + sign * l1 * fore1 * np.sin(theta1)
        pos[:, 1, :, mid] = pos[:, 1, :, prox] + l1 * fore1 * np.cos(theta1)
        pos[:, 0, :, dist] = pos[:, 0, :, mid] + sign * l2 * fore2 * np.sin(theta2)
        pos[:, 1, :, dist] = pos[:, 1, :, mid] + l2 * fore2 * np.cos(theta2)
    yaw, tilt = 0.6 * dofs[:, 16], 0.25 * dofs[:, 17]
    for h, name in enumerate(("nose", "r_eye", "l_eye", "r_ear", "l_ear")):
        rx, ry = body["head_rest"][h]
        depth = 0.25 if name == "nose" else (0.15 if "eye" in name else -0.05)
        x = rx * np.cos(yaw) + depth * np.sin(yaw)
        y = ry * (1 - 0.1 * np.abs(yaw))
        c, s = np.cos(tilt), np.sin(tilt)
        pos[:, 0, :, j[name]] = c * x - s * y
        pos[:, 1, :, j[name]] = s * x + c * y
    return pos


def clean_speed(pos: np.ndarray, fps: float) -> np.ndarray:
    """Mean end-effector speed relative to the shoulder/hip (trunk lengths / s), per infant."""
    rel = np.stack([pos[:, :, :, d] - pos[:, :, :, p] for p, _, d in LIMBS.values()], axis=1)
    return np.linalg.norm(np.diff(rel, axis=-1), axis=2).mean(axis=(1, 2)) * fps


def _scale_to_speed(body: dict, dofs: np.ndarray, target: np.ndarray, fps: float) -> np.ndarray:
    """Rescale DOF deviations so each infant's clean end-effector speed equals ``target`` (3 fixed-point steps)."""
    dofs = dofs.copy()
    for _ in range(3):
        speed = clean_speed(forward_kinematics(body, dofs), fps)
        dofs *= (target / np.maximum(speed, 1e-9))[:, None, None]
    return dofs


def _to_image(rng: np.random.Generator, pos: np.ndarray, noise: bool) -> np.ndarray:
    """Place body-frame positions in a 640x480 image (canonical px/size - 0.5 units), add detector noise."""
    n = pos.shape[0]
    trunk_px = rng.normal(*TRUNK_PX, n)[:, None, None, None]
    roll = np.deg2rad(rng.normal(*ROLL_DEG, n))[:, None, None]
    centre = np.stack([rng.normal(*CENTRE_PX[0], n), rng.normal(*CENTRE_PX[1], n)], axis=1)
    body_centre = 0.5 * (pos[:, :, :, JOINT_INDEX["neck"]] + 0.5 * (pos[:, :, :, JOINT_INDEX["r_hip"]]
                                                                     + pos[:, :, :, JOINT_INDEX["l_hip"]]))
    rel = pos - body_centre.mean(axis=2, keepdims=True)[..., None]
    c, s = np.cos(roll), np.sin(roll)
    px = np.stack([c * rel[:, 0] - s * rel[:, 1], s * rel[:, 0] + c * rel[:, 1]], axis=1) * trunk_px
    px += centre[:, :, None, None]
    if noise:
        scale = np.full(NUM_JOINTS, JITTER_PX)
        scale[[chain[i] for chain in LIMBS.values() for i in (1, 2)]] *= LIMB_JITTER_FACTOR
        px += rng.normal(0.0, 1.0, px.shape) * scale
        # Detector glitches: a limb joint jumps away for a frame or two (OpenPose grabs the wrong blob).
        limb_joints = [chain[i] for chain in LIMBS.values() for i in (1, 2)]
        for i, f, v in zip(*np.nonzero(rng.random((n, px.shape[2], len(limb_joints))) < GLITCH_RATE), strict=True):
            px[i, :, f:f + int(rng.integers(1, 3)), limb_joints[v]] += rng.normal(0.0, GLITCH_PX, 2)[:, None]
    width, height = IMAGE_SIZE
    return np.stack([px[:, 0] / width, px[:, 1] / height], axis=1)  # centred canonical coordinates


def _confidence(rng: np.random.Generator, n: int, t: int, fps: float, noise: bool) -> np.ndarray:
    """Per-joint confidence ``(n, T, 18)`` with drop-out runs set to 0."""
    if not noise:
        return np.ones((n, t, NUM_JOINTS))
    wobble = 0.12 * bandlimited(rng, (n, NUM_JOINTS, t), fps, (0.05, 2.0)).transpose(0, 2, 1)
    conf = np.clip(MEAN_CONF[None, None, :] + wobble, 0.12, 1.0)
    start_p = DROP_FRACTION / DROP_RUN_MEAN
    starts = rng.random((n, t, NUM_JOINTS)) < start_p[None, None, :]
    for i, f, v in zip(*np.nonzero(starts), strict=True):
        conf[i, f:f + int(rng.geometric(1.0 / DROP_RUN_MEAN)), v] = 0.0
    return conf


def _swap_left_right(rng: np.random.Generator, data: np.ndarray) -> None:
    """In place: whole-body left/right label swaps in runs, for a fraction of infants (detector artefact)."""
    n, _, t, _ = data.shape
    for i in np.flatnonzero(rng.random(n) < SWAP_INFANT_FRACTION):
        budget = int(rng.uniform(*SWAP_FRAME_FRACTION) * t)
        while budget > 0:
            length = min(budget, int(rng.integers(3, 40)))
            start = int(rng.integers(0, max(1, t - length)))
            data[i, :, start:start + length] = data[i, :, start:start + length][..., list(FLIP_PERMUTATION)]
            budget -= length


def generate(config: GeneratorConfig) -> SkeletonSet:
    """Generate ``config.n`` infants; see the module docstring for what distinguishes the classes."""
    config.validate()
    rng = np.random.default_rng(config.seed)
    n, t, fps = config.n, config.frames, config.fps
    labels = (rng.random(n) < config.at_risk_fraction).astype(np.int64)
    u = rng.random(n)
    if config.planted_joints:  # planted joints carry the whole abnormality: no one-sided pattern there
        pattern = np.where(labels == 1, np.where(u < 0.5, 1, 2), 0)
    else:
        a, b, _ = np.cumsum(AT_RISK_PATTERN_SHARES)
        pattern = np.where(labels == 1, np.where(u < a, 1, np.where(u < b, 2, 3)), 0)
    side = np.where(rng.random(n) < 0.5, 0, 1)  # the affected side of a unilateral infant (0 right, 1 left)
    body = _body(rng, n)
    target = np.exp(rng.normal(*SPEED_LOG, n))  # drawn independently of the label
    normal = _normal_dofs(rng, n, t, fps)
    severity = rng.uniform(*config.severity, (n, 1, 1))
    abnormal = np.where((pattern == 1)[:, None, None], _absent_fidgety_dofs(rng, n, t, fps),
                        _cramped_dofs(rng, n, t, fps))
    abnormal = severity * abnormal + (1 - severity) * _normal_dofs(rng, n, t, fps)
    # Unilateral (hemiplegic-like): absent-fidgety dynamics in one side's arm and leg, normal movement on the
    # other side and the head. LIMBS order: r_arm, l_arm, r_leg, l_leg -> DOF blocks 0, 1, 2, 3 (4 DOFs each).
    one_sided = _absent_fidgety_dofs(rng, n, t, fps)
    one_sided = severity * one_sided + (1 - severity) * normal
    for k, limb in enumerate(LIMBS):
        block = slice(4 * k, 4 * k + 4)
        healthy = (pattern == 3) & (side != UNILATERAL_SIDES.index(limb[0]))
        one_sided[healthy, block] = normal[healthy, block]
    one_sided[:, 16:] = normal[:, 16:]
    abnormal = np.where((pattern == 3)[:, None, None], one_sided, abnormal)
    if config.planted_joints:
        # The planted joints take their movement from a second, independent draw - abnormal for at-risk
        # infants, a fresh normal one (with its own speed) for the others - so nothing outside them carries
        # label information, not even by contrast with the rest of the body.
        pos = forward_kinematics(body, _scale_to_speed(body, normal, target, fps))
        second_target = np.exp(rng.normal(*SPEED_LOG, n))
        second = np.where((labels == 1)[:, None, None], abnormal, _normal_dofs(rng, n, t, fps))
        pos_second = forward_kinematics(body, _scale_to_speed(body, second, second_target, fps))
        planted = [JOINT_INDEX[j] for j in config.planted_joints]
        pos[..., planted] = pos_second[..., planted]
    else:
        dofs = np.where((labels == 1)[:, None, None], abnormal, normal)
        pos = forward_kinematics(body, _scale_to_speed(body, dofs, target, fps))
    xy = _to_image(rng, pos, config.noise)
    conf = _confidence(rng, n, t, fps, config.noise)
    data = np.concatenate([xy, conf[:, None]], axis=1)  # (n, 3, T, 18)
    data[:, :2][np.broadcast_to(data[:, 2:3] <= 0, data[:, :2].shape)] = 0.0
    if config.noise:
        _swap_left_right(rng, data)
    meta = {
        "pattern": np.asarray([PATTERNS[p] for p in pattern]),
        "affected_side": np.asarray([("right", "left")[sd] if p == 3 else "" for p, sd in zip(pattern, side,
                                                                                               strict=True)]),
        "speed": target.astype(np.float32),
        "planted_joints": np.asarray(config.planted_joints, dtype=str),
        "aspect": np.float32(IMAGE_SIZE[0] / IMAGE_SIZE[1]),
        "generator": np.asarray(json.dumps(asdict(config))),
    }
    names = [f"synthetic_{config.seed}_{i:05d}" for i in range(n)]
    return validate_skeletons(data, labels=labels, names=names, fps=fps, meta=meta, source="generator")


def planted_joints_of(skeletons: SkeletonSet) -> list[str]:
    """The joints a generated file planted its abnormal dynamics in (empty when none)."""
    value = skeletons.meta.get("planted_joints")
    return [] if value is None else [str(v) for v in np.asarray(value).reshape(-1)]


def parse_joint_list(text: str | Sequence[str]) -> tuple[str, ...]:
    """``"l_wrist,l_elbow"`` -> ``("l_wrist", "l_elbow")`` (validated by :meth:`GeneratorConfig.validate`)."""
    items = text.split(",") if isinstance(text, str) else list(text)
    return tuple(item.strip() for item in items if item.strip())
