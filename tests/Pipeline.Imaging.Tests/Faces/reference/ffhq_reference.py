#!/usr/bin/env python3
"""Reference for the C# parity tests: FFHQ alignment (spec §6) and Pillow Lanczos resizing with Pillow/numpy/scipy.

Written from the step-by-step procedure in the project's images/faces spec (§6), which describes NVIDIA
ffhq-dataset's recreate_aligned_images; no code is taken from that script. Run only by
FfhqAlignerTests when python3 with PIL, numpy and scipy is installed (Debian: python3-pil python3-numpy python3-scipy).
Usage:
  ffhq_reference.py align  IN.png LANDMARKS.json OUTPUT_SIZE TRANSFORM_SIZE OUT.png
  ffhq_reference.py resize IN.png WIDTH HEIGHT OUT.png
  ffhq_reference.py jpeg   IN.png progressive|cmyk|grey OUT.jpg   (decoder format coverage)
"""
import json
import sys

import numpy as np
import PIL.Image
import scipy.ndimage

LANCZOS = getattr(PIL.Image, "Resampling", PIL.Image).LANCZOS


def _bounds(q):
    """floor of the minima and ceil of the maxima of the quad corners: (left, top, right, bottom)."""
    return (int(np.floor(q[:, 0].min())), int(np.floor(q[:, 1].min())),
            int(np.ceil(q[:, 0].max())), int(np.ceil(q[:, 1].max())))


def align(img, lm, output_size, transform_size):
    """Spec §6.1 steps 1-8, expressed with the numpy/scipy/Pillow operations the spec names."""
    pts = np.asarray(lm, dtype=np.float64)
    eye_l, eye_r = pts[36:42].mean(axis=0), pts[42:48].mean(axis=0)
    eye_mid = (eye_l + eye_r) * 0.5
    e2e = eye_r - eye_l
    e2m = (pts[48] + pts[54]) * 0.5 - eye_mid

    # Step 2: x = e2e - rot90(e2m) with rot90(v) = (-v.y, v.x); unit length times the larger of the two spans.
    half_x = e2e + np.array([e2m[1], -e2m[0]])
    half_x = half_x / np.hypot(half_x[0], half_x[1])
    half_x = half_x * max(2.0 * np.hypot(e2e[0], e2e[1]), 1.8 * np.hypot(e2m[0], e2m[1]))
    half_y = np.array([-half_x[1], half_x[0]])
    centre = eye_mid + 0.1 * e2m
    corners = np.array([centre - half_x - half_y, centre - half_x + half_y, centre + half_x + half_y, centre + half_x - half_y])
    side = 2.0 * np.hypot(half_x[0], half_x[1])

    # Step 4: shrink.
    factor = int(np.floor(side / output_size * 0.5))
    if factor > 1:
        new_size = tuple(int(np.rint(float(n) / factor)) for n in img.size)
        img = img.resize(new_size, LANCZOS)
        corners = corners / factor
        side = side / factor

    # Step 5: crop.
    margin = max(int(np.rint(0.1 * side)), 3)
    l, t, r, b = _bounds(corners)
    box = (max(l - margin, 0), max(t - margin, 0), min(r + margin, img.size[0]), min(b + margin, img.size[1]))
    if box[2] - box[0] < img.size[0] or box[3] - box[1] < img.size[1]:
        img = img.crop(box)
        corners = corners - np.array(box[:2], dtype=np.float64)

    # Step 6: reflect pad, blend towards a blur and towards the median.
    l, t, r, b = _bounds(corners)
    need = [max(margin - l, 0), max(margin - t, 0), max(r - img.size[0] + margin, 0), max(b - img.size[1] + margin, 0)]
    if max(need) > margin - 4:
        need = np.maximum(need, int(np.rint(0.3 * side)))
        arr = np.pad(np.float32(img), ((need[1], need[3]), (need[0], need[2]), (0, 0)), mode="reflect")
        height, width = arr.shape[:2]
        cols = np.float32(np.arange(width)).reshape(1, width, 1)
        rows = np.float32(np.arange(height)).reshape(height, 1, 1)
        wx = 1.0 - np.minimum(cols / need[0], np.float32(width - 1 - cols) / need[2])
        wy = 1.0 - np.minimum(rows / need[1], np.float32(height - 1 - rows) / need[3])
        weight = np.maximum(wx, wy)
        sigma = 0.02 * side
        arr += (scipy.ndimage.gaussian_filter(arr, [sigma, sigma, 0]) - arr) * np.clip(3.0 * weight + 1.0, 0.0, 1.0)
        arr += (np.median(arr, axis=(0, 1)) - arr) * np.clip(weight, 0.0, 1.0)
        img = PIL.Image.fromarray(np.uint8(np.clip(np.rint(arr), 0, 255)), "RGB")
        corners = corners + np.array(need[:2], dtype=np.float64)

    # Steps 7-8: quad warp (Pillow wants NW, SW, SE, NE in its +0.5 pixel convention), then Lanczos.
    out = img.transform((transform_size, transform_size), PIL.Image.QUAD, tuple((corners + 0.5).ravel()), PIL.Image.BILINEAR)
    if output_size < transform_size:
        out = out.resize((output_size, output_size), LANCZOS)
    return out


def main(argv):
    if argv[1] == "align":
        img = PIL.Image.open(argv[2]).convert("RGB")
        with open(argv[3]) as f:
            lm = json.load(f)
        align(img, lm, int(argv[4]), int(argv[5])).save(argv[6])
    elif argv[1] == "resize":
        img = PIL.Image.open(argv[2]).convert("RGB")
        img.resize((int(argv[3]), int(argv[4])), LANCZOS).save(argv[5])
    elif argv[1] == "jpeg":
        img = PIL.Image.open(argv[2]).convert("RGB")
        variant, out = argv[3], argv[4]
        if variant == "progressive":
            img.save(out, "JPEG", quality=95, progressive=True)
        elif variant == "cmyk":
            img.convert("CMYK").save(out, "JPEG", quality=95)
        elif variant == "grey":
            img.convert("L").save(out, "JPEG", quality=95)
        else:
            raise SystemExit("unknown variant " + variant)
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
