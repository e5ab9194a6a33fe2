"""Named fusion profiles shipped with the package (JSON files beside this module)."""
from __future__ import annotations

from pathlib import Path

from rag_augment.errors import ConfigError
from rag_augment.fusion import FusionProfile

PROFILE_DIR = Path(__file__).parent


def available() -> list[str]:
    return sorted(p.stem for p in PROFILE_DIR.glob("*.json"))


def load_profile(name_or_path: str | None = None) -> FusionProfile:
    """None -> the shipped default; a shipped name; or the path of a profile file written by `eval --tune`."""
    if name_or_path is None:
        name_or_path = "default"
    path = Path(name_or_path)
    if path.suffix == ".json" and path.exists():
        return FusionProfile.load(path)
    shipped = PROFILE_DIR / f"{name_or_path}.json"
    if shipped.exists():
        return FusionProfile.load(shipped)
    if name_or_path == "default":
        return FusionProfile()
    raise ConfigError(f"fusion profile {name_or_path!r}: no such file, and not one of {available()}")
