#!/usr/bin/env bash
# Face models for the imaging tests (Pipeline.Imaging.Tests):
#  - opencv-data:  /usr/share/opencv4/haarcascades/haarcascade_frontalface_alt2.xml (Haar face detector, BSD-3)
#  - libdlib-data: /usr/share/dlib/shape_predictor_68_face_landmarks.dat (68-point landmarks; licence caveat in docs/imaging.md)
#  - python3-pil, python3-numpy, python3-scipy: the Pillow/numpy/scipy reference that the FFHQ-alignment and
#    Lanczos parity tests run (tests/Pipeline.Imaging.Tests/Faces/reference/ffhq_reference.py); those tests skip without them.
#  - g++, libdlib-dev: dlib's own shape predictor, compiled by the landmark parity test
#    (tests/Pipeline.Imaging.Tests/Faces/reference/dlib_landmarks.cpp); that test skips without them.
# Never bundled in the repo or container image: tests and users load them from a configured path.
set -euo pipefail
. "$(dirname "$0")/apt.bash" # apt_get / apt_get_update: wait for the dpkg and apt lists locks
need=()
dpkg -s opencv-data >/dev/null 2>&1 || need+=(opencv-data)
dpkg -s libdlib-data >/dev/null 2>&1 || need+=(libdlib-data)
for p in python3-pil python3-numpy python3-scipy g++ libdlib-dev; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
[ ${#need[@]} -eq 0 ] && exit 0
export DEBIAN_FRONTEND=noninteractive
if ! apt_get install -y -qq --no-install-recommends "${need[@]}" >/dev/null 2>&1; then
  apt_get_update -qq >/dev/null
  apt_get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
