"""The records two models would give as one ensemble that averages their logits, made from each
model's own `facetell eval --records` of the same labels: face by face (the same detector, so the
same frames and faces), then each frame's score as the max over its faces and each video's as the
mean over its frames, as the product aggregates. Records are matched on their labels' path
(`dev.labelled_records`), so records written from different folders pair up. What
`compare_dev.py` then reads is what an ensemble graph through the product gives (session 21
checked the two agree).

    python average_records.py work/dev_records_stills.jsonl /tmp/v5.jsonl /tmp/v15+v5.jsonl \\
        --labels ../../shared/data/dev/labels.csv
"""
import argparse
import json
import math

from facetell_train import dev


def logit(p):
    p = min(max(p, 1e-7), 1 - 1e-7)
    return math.log(p / (1 - p))


def average_faces(faces_a, faces_b):
    """Sets each of A's scored faces to the sigmoid of its and B's mean logit (in place); returns
    those scores."""
    scores = []
    for fa, fb in zip(faces_a, faces_b, strict=True):
        if fa["score"] is None or fb["score"] is None:
            continue
        fa["score"] = 1 / (1 + math.exp(-(logit(fa["score"]) + logit(fb["score"])) / 2))
        scores.append(fa["score"])
    return scores


def average(a, b):
    """A's record with every face's score the mean logit of A's and B's."""
    if a.get("frames"):
        means = []
        for fa, fb in zip(a["frames"], b["frames"], strict=True):
            assert fa["index"] == fb["index"], f"{a['path']}: frames differ"
            scores = average_faces(fa["faces"], fb["faces"])
            fa["score"] = max(scores) if scores else None
            if scores:
                means.append(fa["score"])
        a["score"] = sum(means) / len(means) if means else None
    elif a.get("faces"):
        scores = average_faces(a["faces"], b["faces"])
        a["score"] = max(scores) if scores else None
    return a


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("a", help="records of the first model")
    p.add_argument("b", help="records of the second model, same labels")
    p.add_argument("out", help="records of their logit average (A's labelled files that B has)")
    p.add_argument("--labels", required=True, help="the labels both were scanned with")
    args = p.parse_args()
    b = {path: rec for rec, _, _, path in dev.labelled_records(args.b, args.labels)}
    with open(args.out, "w") as out:
        for ra, _, _, path in dev.labelled_records(args.a, args.labels):
            if path in b:
                out.write(json.dumps(average(ra, b[path])) + "\n")


if __name__ == "__main__":
    main()
