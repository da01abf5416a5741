import pytest

from build_index.mapping import GoClassMapper, uniprot_term_class
from conftest import DEBIAN_FIXTURE


@pytest.mark.parametrize("term, cls", [
    ("Nucleus", "Nucleus"),
    ("Nucleus, nucleolus", "Nucleus"),
    ("nucleus membrane", "Nucleus"),                       # case-insensitive
    ("Cytoplasm, cytosol", "Cytoplasm"),
    ("Cytoplasmic vesicle, secretory vesicle", None),     # whole word only: a vesicle is not the cytosol
    ("Secreted", "Extracellular"),
    ("Secreted, extracellular space, extracellular matrix", "Extracellular"),
    ("Mitochondrion inner membrane", "Mitochondrion"),
    ("Cell membrane", "Cell.membrane"),
    ("Cell outer membrane", None),
    ("Endoplasmic reticulum lumen", "Endoplasmic.reticulum"),
    ("Plastid, chloroplast thylakoid membrane", "Plastid"),
    ("Chloroplast", "Plastid"),
    ("Golgi apparatus, trans-Golgi network membrane", "Golgi.apparatus"),
    ("Lysosome membrane", "Lysosome/Vacuole"),
    ("Vacuole", "Lysosome/Vacuole"),
    ("Peroxisome matrix", "Peroxisome"),
    ("Membrane", None),
    ("Cell projection, cilium", None),
])
def test_uniprot_term_class(term, cls):
    assert uniprot_term_class(term) == cls


@pytest.fixture(scope="module")
def go_mapper():
    return GoClassMapper.from_file(DEBIAN_FIXTURE / "dataset_201401/fullTransitiveClosureGO.txt")


@pytest.mark.parametrize("term, classes", [
    ("GO:0005759", ("Mitochondrion",)),          # mitochondrial matrix: never also Cytoplasm
    ("GO:0005743", ("Mitochondrion",)),          # mitochondrial inner membrane
    ("GO:0005737", ("Cytoplasm",)),              # cytoplasm itself (distance 0)
    ("GO:0005829", ("Cytoplasm",)),              # cytosol
    ("GO:0005788", ("Endoplasmic.reticulum",)),  # ER lumen
    ("GO:0005615", ("Extracellular",)),          # extracellular space
    ("GO:0005886", ("Cell.membrane",)),          # plasma membrane
    ("GO:0000139", ("Golgi.apparatus",)),        # Golgi membrane
    ("GO:0005782", ("Peroxisome",)),             # peroxisomal matrix
    ("GO:0009570", ("Plastid",)),                # chloroplast stroma
    ("GO:0000324", ("Lysosome/Vacuole",)),       # fungal-type vacuole
    ("GO:0005764", ("Lysosome/Vacuole",)),       # lysosome
    ("GO:0016020", ()),                          # membrane: no class
    ("GO:9999999", ()),                          # unknown term
])
def test_go_nearest_anchor(go_mapper, term, classes):
    assert go_mapper.classes(term) == classes


def test_go_locations_keep_unmapped_terms_and_drop_duplicates(go_mapper):
    rows = go_mapper.locations(["GO:0005759", "GO:0005759", "GO:0016020"])
    assert [(r.cls, r.raw_term) for r in rows] == [("Mitochondrion", "GO:0005759"), (None, "GO:0016020")]
