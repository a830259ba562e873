"""Reads models/manifest.toml, the one place crop and input constants live (see src/manifest.rs)."""
import pathlib
import tomllib

REPO = pathlib.Path(__file__).resolve().parents[2]
MANIFEST = REPO / "models" / "manifest.toml"

# Input normalisation written to the manifest at export; src/classify.rs reads it back.
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


def load(path=MANIFEST):
    with open(path, "rb") as f:
        return tomllib.load(f)


def crop_size():
    return int(load()["crop"]["size"])
