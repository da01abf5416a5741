"""Regenerate ``sprot_fixture.dat`` (run from the repository root with a built Debian index).

The entries are abridged Swiss-Prot flat-file records in the current UniProt format: ID, AC, DE,
OS, OC, OX, the SUBCELLULAR LOCATION comments (with ECO evidence codes and isoform-specific
statements, as UniProt writes them) and SQ. Sequences are the real Swiss-Prot sequences of these
accessions as shipped in Debian's metastudent-data (Swiss-Prot 2014-01); SQ lines carry the
real length, molecular weight and CRC64 computed from them. References and features are left out.
"""

import sys
import textwrap

from Bio.SeqUtils import molecular_weight
from Bio.SeqUtils.CheckSum import crc64

import pslindex

ENTRIES = [
    dict(acc="P04637", more="Q15086; Q15087; Q15088; Q16535; Q16807", name="P53_HUMAN",
         de="Cellular tumor antigen p53", os="Homo sapiens (Human)",
         oc="Eukaryota; Metazoa; Chordata; Craniata; Vertebrata; Euteleostomi; Mammalia; Eutheria; "
            "Euarchontoglires; Primates; Haplorrhini; Catarrhini; Hominidae; Homo.", ox="9606",
         cc=["SUBCELLULAR LOCATION: Cytoplasm {ECO:0000269|PubMed:15340061, ECO:0000269|PubMed:17189187}. "
             "Nucleus {ECO:0000269|PubMed:15340061}. Nucleus, PML body {ECO:0000269|PubMed:19011621}. "
             "Endoplasmic reticulum {ECO:0000269|PubMed:19011621}. Mitochondrion matrix "
             "{ECO:0000269|PubMed:19011621}. Cytoplasm, cytoskeleton, microtubule organizing center, "
             "centrosome {ECO:0000269|PubMed:19011621}. Note=Interaction with BANP promotes nuclear "
             "localization. Recruited into PML bodies together with CHEK2. {ECO:0000269|PubMed:15701641}.",
             "SUBCELLULAR LOCATION: [Isoform 1]: Nucleus {ECO:0000269|PubMed:16131611}. Cytoplasm "
             "{ECO:0000269|PubMed:16131611}. Note=Predominantly nuclear but localizes to the cytoplasm "
             "when expressed with isoform 4.",
             "SUBCELLULAR LOCATION: [Isoform 2]: Nucleus. Cytoplasm. Note=Localized mainly in the "
             "nucleus with minor staining in the cytoplasm."]),
    dict(acc="P01308", more="Q5EEX2", name="INS_HUMAN", de="Insulin", os="Homo sapiens (Human)",
         oc="Eukaryota; Metazoa; Chordata; Craniata; Vertebrata; Euteleostomi; Mammalia; Eutheria; "
            "Euarchontoglires; Primates; Haplorrhini; Catarrhini; Hominidae; Homo.", ox="9606",
         cc=["SUBCELLULAR LOCATION: Secreted {ECO:0000269|PubMed:14426955}."]),
    dict(acc="P31040", more="B3KYA0; Q0QF12; Q16395", name="SDHA_HUMAN",
         de="Succinate dehydrogenase [ubiquinone] flavoprotein subunit, mitochondrial",
         os="Homo sapiens (Human)",
         oc="Eukaryota; Metazoa; Chordata; Craniata; Vertebrata; Euteleostomi; Mammalia; Eutheria; "
            "Euarchontoglires; Primates; Haplorrhini; Catarrhini; Hominidae; Homo.", ox="9606",
         cc=["SUBCELLULAR LOCATION: Mitochondrion inner membrane {ECO:0000269|PubMed:24781757}; "
             "Peripheral membrane protein {ECO:0000305}; Matrix side {ECO:0000305}."]),
    dict(acc="P00441", more="D3DSD0; Q8IUL9", name="SODC_HUMAN", de="Superoxide dismutase [Cu-Zn]",
         os="Homo sapiens (Human)",
         oc="Eukaryota; Metazoa; Chordata; Craniata; Vertebrata; Euteleostomi; Mammalia; Eutheria; "
            "Euarchontoglires; Primates; Haplorrhini; Catarrhini; Hominidae; Homo.", ox="9606",
         cc=["SUBCELLULAR LOCATION: Cytoplasm {ECO:0000269|PubMed:19741096}. Nucleus "
             "{ECO:0000269|PubMed:19741096}. Mitochondrion intermembrane space "
             "{ECO:0000250|UniProtKB:P08228}. Note=Mostly cytoplasmic."]),
    dict(acc="P10795", more="Q8LA69", name="RBS1A_ARATH",
         de="Ribulose bisphosphate carboxylase small subunit 1A, chloroplastic",
         os="Arabidopsis thaliana (Mouse-ear cress)",
         oc="Eukaryota; Viridiplantae; Streptophyta; Embryophyta; Tracheophyta; Spermatophyta; "
            "Magnoliopsida; eudicotyledons; Gunneridae; Pentapetalae; rosids; malvids; Brassicales; "
            "Brassicaceae; Camelineae; Arabidopsis.", ox="3702",
         cc=["SUBCELLULAR LOCATION: Plastid, chloroplast {ECO:0000269|PubMed:18431481}."]),
    dict(acc="P21579", more="Q8N6U7", name="SYT1_HUMAN", de="Synaptotagmin-1", os="Homo sapiens (Human)",
         oc="Eukaryota; Metazoa; Chordata; Craniata; Vertebrata; Euteleostomi; Mammalia; Eutheria; "
            "Euarchontoglires; Primates; Haplorrhini; Catarrhini; Hominidae; Homo.", ox="9606",
         cc=["SUBCELLULAR LOCATION: Cytoplasmic vesicle, secretory vesicle, synaptic vesicle membrane "
             "{ECO:0000250|UniProtKB:P21707}; Single-pass membrane protein {ECO:0000255}. Cytoplasmic "
             "vesicle, secretory vesicle, chromaffin granule membrane {ECO:0000250|UniProtKB:P21707}; "
             "Single-pass membrane protein {ECO:0000255}. Cytoplasm {ECO:0000250|UniProtKB:P21707}. "
             "Cell membrane {ECO:0000250|UniProtKB:P21707}; Single-pass membrane protein."]),
    dict(acc="P69905", more="P01922; Q1HDT5; Q3MIF5", name="HBA_HUMAN", de="Hemoglobin subunit alpha",
         os="Homo sapiens (Human)",
         oc="Eukaryota; Metazoa; Chordata; Craniata; Vertebrata; Euteleostomi; Mammalia; Eutheria; "
            "Euarchontoglires; Primates; Haplorrhini; Catarrhini; Hominidae; Homo.", ox="9606", cc=[]),
]


def wrap(code: str, text: str, width: int = 75) -> list[str]:
    return [f"{code}   {line}" for line in textwrap.wrap(text, width, break_on_hyphens=False)]


def entry_text(e: dict, seq: str) -> str:
    lines = [f"ID   {e['name']:<24}Reviewed;{len(seq):>11} AA."]
    lines += wrap("AC", f"{e['acc']}; {e['more']};")
    lines += ["DT   01-JAN-1990, integrated into UniProtKB/Swiss-Prot.",
              "DT   22-JAN-2014, sequence version 1.", "DT   22-JAN-2014, entry version 100."]
    lines += [f"DE   RecName: Full={e['de']};"]
    lines += [f"OS   {e['os']}."]
    lines += wrap("OC", e["oc"])
    lines += [f"OX   NCBI_TaxID={e['ox']};"]
    for comment in e["cc"]:
        wrapped = textwrap.wrap(comment, 71, break_on_hyphens=False)
        lines.append(f"CC   -!- {wrapped[0]}")
        lines += [f"CC       {w}" for w in wrapped[1:]]
    mw = round(molecular_weight(seq.replace("X", "A").replace("U", "C"), seq_type="protein"))
    lines.append(f"SQ   SEQUENCE {len(seq):>5} AA; {mw:>6} MW;  {crc64(seq)[3:]} CRC64;")
    for i in range(0, len(seq), 60):
        chunk = seq[i:i + 60]
        lines.append("     " + " ".join(chunk[j:j + 10] for j in range(0, len(chunk), 10)))
    lines.append("//")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    index = pslindex.open_index(sys.argv[1] if len(sys.argv) > 1 else "data/index")
    sys.stdout.write("".join(entry_text(e, index.sequence(e["acc"])) for e in ENTRIES))
