"""What a scan of the real street fixture says, as the model card records it: the video's label
and score, and how many of its scored faces and scored tracks are at or above the threshold the
scan ran with (the record's own).

    ../target/release/facetell scan --format jsonl ../../shared/data/fixtures/video.mp4 > work/fixture.jsonl
    python fixture.py work/fixture.jsonl
"""
import argparse
import json


def summary(record):
    t = record["threshold"]
    faces = [f["score"] for frame in record["frames"] for f in frame["faces"] if f["score"] is not None]
    tracks = [tr["score"] for tr in record["tracks"] if tr["score"] is not None]
    return (f"fixture {record['label']} {record['score']:.4f} at threshold {t}: "
            f"{sum(s >= t for s in faces)} of {len(faces)} scored faces and "
            f"{sum(s >= t for s in tracks)} of {len(tracks)} scored tracks at or above it")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("records", help="facetell scan --format jsonl of the fixture (its first record)")
    with open(p.parse_args().records) as f:
        print(summary(json.loads(f.readline())))


if __name__ == "__main__":
    main()
