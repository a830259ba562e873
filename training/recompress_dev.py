"""Writes a recompressed copy of the dev photos of one set OUTSIDE the repository, with a labels
file, to measure how a verdict holds when a photo has been through a messenger's JPEG or a video
codec: every photo re-encoded once, at the same size, deterministic.

    python recompress_dev.py --set yonsei --jpeg 75 --out /tmp/facetell-yonsei-jpeg75
    python recompress_dev.py --set yonsei --h264 28 --out /tmp/facetell-yonsei-h264crf28
    facetell eval --labels /tmp/facetell-yonsei-jpeg75/labels.csv --root /tmp/facetell-yonsei-jpeg75

`--jpeg Q` re-encodes with OpenCV's JPEG encoder at quality Q (4:2:0, as messengers send photos);
`--h264 CRF` encodes each photo as a one-frame H.264 video with ffmpeg (`libx264 -crf CRF
-pix_fmt yuv420p`, even size) and writes its frame back as PNG: a large face as a video holds it.
"""
import argparse
import csv
import pathlib
import subprocess
import tempfile

import cv2

from facetell_train.dev import write_labels
from facetell_train.manifest import REPO

DATA = REPO.parent / "shared" / "data"
PHOTOS = (".jpg", ".jpeg", ".png")


def h264_frame(src, dst, crf):
    """Encodes the image at `src` as one H.264 frame and writes that frame, decoded, to `dst`."""
    with tempfile.TemporaryDirectory() as tmp:
        video = pathlib.Path(tmp) / "one.mp4"
        quiet = ["ffmpeg", "-nostdin", "-loglevel", "error", "-y"]
        subprocess.run(quiet + ["-i", str(src), "-vf", "crop=trunc(iw/2)*2:trunc(ih/2)*2",
                                "-c:v", "libx264", "-crf", str(crf), "-pix_fmt", "yuv420p",
                                "-frames:v", "1", str(video)], check=True)
        subprocess.run(quiet + ["-i", str(video), "-frames:v", "1", str(dst)], check=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--set", required=True, help="a set of ../shared/data/dev/labels.csv")
    codec = p.add_mutually_exclusive_group(required=True)
    codec.add_argument("--jpeg", type=int, metavar="Q", help="JPEG quality 1-100")
    codec.add_argument("--h264", type=int, metavar="CRF", help="x264 constant rate factor")
    p.add_argument("--out", required=True)
    a = p.parse_args()
    out = pathlib.Path(a.out)
    assert REPO not in out.resolve().parents, "write the recompressed copy outside the repository"
    tag = f"jpeg{a.jpeg}" if a.jpeg is not None else f"h264crf{a.h264}"
    rows = []
    for row in csv.DictReader(open(DATA / "dev" / "labels.csv")):
        if row["set"] != a.set or not row["path"].lower().endswith(PHOTOS):
            continue
        src = DATA / row["path"]
        rel = pathlib.Path(row["label"]) / src.name
        (out / rel.parent).mkdir(parents=True, exist_ok=True)
        if a.jpeg is not None:
            rel = rel.with_suffix(".jpg")
            img = cv2.imread(str(src))
            cv2.imwrite(str(out / rel), img, [cv2.IMWRITE_JPEG_QUALITY, a.jpeg])
        else:
            rel = rel.with_suffix(".png")
            h264_frame(src, out / rel, a.h264)
        rows.append((str(rel), row["label"], f"{a.set}_{tag}"))
    if not rows:
        p.error(f"no dev photo in set {a.set!r}")
    write_labels(out, rows)
    print(f"wrote {len(rows)} photos of {a.set} ({tag}) to {out}")


if __name__ == "__main__":
    main()
