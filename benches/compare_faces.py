"""Compares two facetell JSONL scans of the same files face by face: faces lost and new (matched
at IoU 0.5, frame by frame for videos), landmark shifts as shares of the face size, score changes.

    python3 benches/compare_faces.py before.jsonl after.jsonl

Standard library only.
"""
import json
import sys


def faces_by_frame(path):
    """{(file, frame index): faces} of a scan; an image is frame 0."""
    out = {}
    for line in open(path):
        record = json.loads(line)
        frames = record.get("frames") or [{"index": 0, "faces": record.get("faces") or []}]
        for frame in frames:
            out[(record["path"], frame["index"])] = frame["faces"]
    return out


def iou(a, b):
    ix = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    iy = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    if ix <= 0 or iy <= 0:
        return 0.0
    inter = ix * iy
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def quantile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def main():
    before, after = faces_by_frame(sys.argv[1]), faces_by_frame(sys.argv[2])
    lost, new, shifts, changes = [], [], [], []
    for key, faces in before.items():
        others = after.get(key, [])
        used = set()
        for face in faces:
            candidates = [(iou(face["box"], o["box"]), j) for j, o in enumerate(others) if j not in used]
            overlap, j = max(candidates, default=(0.0, None))
            if overlap < 0.5:
                lost.append((key, face["box"], face.get("score"), face["detection"]))
                continue
            used.add(j)
            other = others[j]
            size = max(min(face["box"][2], face["box"][3]), 1.0)
            shift = max(max(abs(p[0] - q[0]), abs(p[1] - q[1])) for p, q in zip(face["landmarks"], other["landmarks"]))
            shifts.append(shift / size)
            if face.get("score") is not None and other.get("score") is not None:
                changes.append((abs(face["score"] - other["score"]), key, size, face["score"], other["score"]))
        new += [(key, o["box"], o.get("score"), o["detection"]) for j, o in enumerate(others) if j not in used]
    count = lambda scan: sum(map(len, scan.values()))
    print(f"frames {len(before)}; faces before {count(before)}, after {count(after)}; "
          f"matched {len(shifts)}, lost {len(lost)}, new {len(new)}")
    print(f"landmark shift / face size: median {quantile(shifts, .5):.4f}, "
          f"p95 {quantile(shifts, .95):.4f}, max {max(shifts, default=0):.4f}")
    deltas = [c[0] for c in changes]
    print(f"|score change| ({len(deltas)} scored faces): median {quantile(deltas, .5):.4f}, "
          f"p95 {quantile(deltas, .95):.4f}, max {max(deltas, default=0):.4f}")
    for face in lost:
        print("lost (file, frame), box, score, detection:", face)
    for face in new:
        print("new (file, frame), box, score, detection:", face)
    for change in sorted(changes, reverse=True)[:5]:
        print("largest score change, (file, frame), face size, before, after:", change)


if __name__ == "__main__":
    main()
