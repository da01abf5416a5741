"""The ten DeepLoc 1.0 location classes (SPEC section 1): one place, imported everywhere."""

CLASSES: tuple[str, ...] = (
    "Nucleus",
    "Cytoplasm",
    "Extracellular",
    "Mitochondrion",
    "Cell.membrane",
    "Endoplasmic.reticulum",
    "Plastid",
    "Golgi.apparatus",
    "Lysosome/Vacuole",
    "Peroxisome",
)
"""Class names in label-id order: ``CLASSES[i]`` is the class with label id ``i``."""

CLASS_INDEX: dict[str, int] = {name: i for i, name in enumerate(CLASSES)}
"""Class name -> label id."""

# 20 standard amino acids plus the five extra letters DeepLoc and Swiss-Prot use (SPEC section 3).
ALPHABET: str = "ACDEFGHIKLMNPQRSTVWYXBZUO"
