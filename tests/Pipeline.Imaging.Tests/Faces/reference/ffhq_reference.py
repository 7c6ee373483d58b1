#!/usr/bin/env python3
"""Reference for the C# parity tests: FFHQ alignment (spec §6) and Pillow Lanczos resizing with Pillow/numpy/scipy.

Written from the procedure in docs/spec (NVIDIA ffhq-dataset's recreate_aligned_images); run only by
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


def align(img, lm, output_size, transform_size):
    lm = np.array(lm, dtype=np.float64)
    eye_left = np.mean(lm[36:42], axis=0)
    eye_right = np.mean(lm[42:48], axis=0)
    eye_avg = (eye_left + eye_right) * 0.5
    eye_to_eye = eye_right - eye_left
    mouth_avg = (lm[48] + lm[54]) * 0.5
    eye_to_mouth = mouth_avg - eye_avg

    x = eye_to_eye - np.flipud(eye_to_mouth) * [-1, 1]
    x /= np.hypot(*x)
    x *= max(np.hypot(*eye_to_eye) * 2.0, np.hypot(*eye_to_mouth) * 1.8)
    y = np.flipud(x) * [-1, 1]
    c = eye_avg + eye_to_mouth * 0.1
    quad = np.stack([c - x - y, c - x + y, c + x + y, c + x - y])
    qsize = np.hypot(*x) * 2

    shrink = int(np.floor(qsize / output_size * 0.5))
    if shrink > 1:
        rsize = (int(np.rint(float(img.size[0]) / shrink)), int(np.rint(float(img.size[1]) / shrink)))
        img = img.resize(rsize, LANCZOS)
        quad /= shrink
        qsize /= shrink

    border = max(int(np.rint(qsize * 0.1)), 3)
    crop = (int(np.floor(min(quad[:, 0]))), int(np.floor(min(quad[:, 1]))), int(np.ceil(max(quad[:, 0]))), int(np.ceil(max(quad[:, 1]))))
    crop = (max(crop[0] - border, 0), max(crop[1] - border, 0), min(crop[2] + border, img.size[0]), min(crop[3] + border, img.size[1]))
    if crop[2] - crop[0] < img.size[0] or crop[3] - crop[1] < img.size[1]:
        img = img.crop(crop)
        quad -= crop[0:2]

    pad = (int(np.floor(min(quad[:, 0]))), int(np.floor(min(quad[:, 1]))), int(np.ceil(max(quad[:, 0]))), int(np.ceil(max(quad[:, 1]))))
    pad = (max(-pad[0] + border, 0), max(-pad[1] + border, 0), max(pad[2] - img.size[0] + border, 0), max(pad[3] - img.size[1] + border, 0))
    if max(pad) > border - 4:
        pad = np.maximum(pad, int(np.rint(qsize * 0.3)))
        img = np.pad(np.float32(img), ((pad[1], pad[3]), (pad[0], pad[2]), (0, 0)), "reflect")
        h, w, _ = img.shape
        yy, xx, _ = np.ogrid[:h, :w, :1]
        mask = np.maximum(1.0 - np.minimum(np.float32(xx) / pad[0], np.float32(w - 1 - xx) / pad[2]),
                          1.0 - np.minimum(np.float32(yy) / pad[1], np.float32(h - 1 - yy) / pad[3]))
        blur = qsize * 0.02
        img += (scipy.ndimage.gaussian_filter(img, [blur, blur, 0]) - img) * np.clip(mask * 3.0 + 1.0, 0.0, 1.0)
        img += (np.median(img, axis=(0, 1)) - img) * np.clip(mask, 0.0, 1.0)
        img = PIL.Image.fromarray(np.uint8(np.clip(np.rint(img), 0, 255)), "RGB")
        quad += pad[:2]

    img = img.transform((transform_size, transform_size), PIL.Image.QUAD, (quad + 0.5).flatten(), PIL.Image.BILINEAR)
    if output_size < transform_size:
        img = img.resize((output_size, output_size), LANCZOS)
    return img


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
