"""The OpenPose COCO-18 skeleton every part of cp_predict speaks.

One canonical array per infant: ``(C=3, T, V=18)`` with channels x, y, confidence. Coordinates
follow the MINI-RGBD convention ``x = px / width - 0.5``, ``y = px / height - 0.5`` (image y points
down); confidence is in [0, 1] and 0 marks a joint the pose estimator did not find.
"""

from __future__ import annotations

JOINT_NAMES: tuple[str, ...] = (
    "nose", "neck",
    "r_shoulder", "r_elbow", "r_wrist",
    "l_shoulder", "l_elbow", "l_wrist",
    "r_hip", "r_knee", "r_ankle",
    "l_hip", "l_knee", "l_ankle",
    "r_eye", "l_eye", "r_ear", "l_ear",
)  # fmt: skip
NUM_JOINTS = len(JOINT_NAMES)
JOINT_INDEX: dict[str, int] = {name: i for i, name in enumerate(JOINT_NAMES)}
CHANNELS: tuple[str, ...] = ("x", "y", "confidence")

NECK = JOINT_INDEX["neck"]
R_SHOULDER, L_SHOULDER = JOINT_INDEX["r_shoulder"], JOINT_INDEX["l_shoulder"]
R_HIP, L_HIP = JOINT_INDEX["r_hip"], JOINT_INDEX["l_hip"]

# Bones of the OpenPose COCO-18 body (also the ST-GCN graph of the "openpose" layout).
BONES: tuple[tuple[int, int], ...] = (
    (4, 3), (3, 2), (7, 6), (6, 5), (13, 12), (12, 11), (10, 9), (9, 8),
    (11, 5), (8, 2), (5, 1), (2, 1), (0, 1), (15, 0), (14, 0), (17, 15), (16, 14),
)  # fmt: skip


def _mirror_index(name: str) -> int:
    if name.startswith("r_"):
        return JOINT_INDEX["l_" + name[2:]]
    if name.startswith("l_"):
        return JOINT_INDEX["r_" + name[2:]]
    return JOINT_INDEX[name]


# FLIP_PERMUTATION[v] is the joint that takes v's place when the body is mirrored left <-> right.
FLIP_PERMUTATION: tuple[int, ...] = tuple(_mirror_index(name) for name in JOINT_NAMES)

# The four limbs' distal joints and chains, used by the kinematic features and the generator.
LIMBS: dict[str, tuple[int, int, int]] = {
    "r_arm": (R_SHOULDER, JOINT_INDEX["r_elbow"], JOINT_INDEX["r_wrist"]),
    "l_arm": (L_SHOULDER, JOINT_INDEX["l_elbow"], JOINT_INDEX["l_wrist"]),
    "r_leg": (R_HIP, JOINT_INDEX["r_knee"], JOINT_INDEX["r_ankle"]),
    "l_leg": (L_HIP, JOINT_INDEX["l_knee"], JOINT_INDEX["l_ankle"]),
}
END_EFFECTORS: tuple[int, ...] = tuple(chain[-1] for chain in LIMBS.values())  # wrists and ankles

# Display groups for the importance chart: body side -> joints, left and right side by side.
SIDE_GROUPS: dict[str, tuple[str, ...]] = {
    "centre": ("nose", "neck"),
    "right": tuple(n for n in JOINT_NAMES if n.startswith("r_")),
    "left": tuple(n for n in JOINT_NAMES if n.startswith("l_")),
}


def base_name(joint: str) -> str:
    """``"r_wrist" -> "wrist"``; central joints keep their name."""
    return joint[2:] if joint[:2] in ("r_", "l_") else joint
