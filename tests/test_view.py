"""The attribution viewer: HTML data, PNG export, bad inputs, and the page in a real headless Chromium."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

from conftest import SHARED, make_attributions, read_deeploc
from pslindex import hitrate
from pslmodels import view
from pslmodels.signals import read_signals

SIGNALS = SHARED / "data/signals/SortingSignalsSwissprot.csv.gz"
FAMILY = ("P07766", 192)   # a DeepLoc test protein sharing a 10-mer at 192 with other entries of the index slice


def peak(seq: str, start: int, length: int = 10) -> np.ndarray:
    r = np.zeros(len(seq))
    r[start:start + length] = 1.0
    return r


@pytest.fixture(scope="module")
def results(tmp_path_factory, debian_index):
    """Attributions of 3 real DeepLoc test proteins (one with an annotated signal peptide) and their hit rates."""
    root = tmp_path_factory.mktemp("view")
    index = debian_index
    test_rows = {acc: (acc, label, seq) for acc, label, seq in
                 read_deeploc(SHARED / "data/deeploc/deeploc_data.fasta.gz", test_only=True)}
    signals = read_signals(SIGNALS).set_index("accession")
    with_sp = next(a for a in signals.index if a in test_rows and test_rows[a][2] == signals.loc[a].sequence
                   and signals.loc[a].codes[0] == 1)
    rows = [test_rows[FAMILY[0]], test_rows[with_sp], test_rows["P0CX83"]]
    starts = [FAMILY[1], 0, 76]
    att = make_attributions(rows, "attention", lambda i, s: peak(s, starts[i]))
    ig = make_attributions(rows, "ig", lambda i, s: -peak(s, starts[i]) + peak(s, 40, 5))
    path = root / "attributions.parquet"
    pd.concat([att, ig], ignore_index=True).to_parquet(path, index=False)
    assert hitrate.main([str(path), "--index", str(index), "--k", "2", "--out", str(root / "hitrate")]) == 0
    sp_length = int((signals.loc[with_sp].codes == 1).sum())
    return {"path": path, "rows": rows, "with_sp": with_sp, "sp_length": sp_length}


def page_data(html_file) -> dict:
    text = html_file.read_text()
    match = re.search(r"var DATA = (\{.*?\});\n", text, re.S)
    return json.loads(match.group(1).replace("<\\/", "</"))


def test_whole_set_page(results, capsys):
    out = results["path"].with_name("all.html")
    assert view.main([str(results["path"]), "--out", str(out), "--signals", str(SIGNALS)]) == 0
    assert "hit rates from" in capsys.readouterr().out   # found hitrate/ beside the attributions
    data = page_data(out)
    assert [p["acc"] for p in data["proteins"]] == [r[0] for r in results["rows"]]
    family = data["proteins"][0]
    assert [m["name"] for m in family["methods"]] == ["attention", "ig"]
    att = family["methods"][0]
    assert len(att["scores"]) == len(family["seq"]) and max(att["scores"]) == 100
    start, end, n_matches, hit_true, _ = att["peptides"][0]
    assert start <= FAMILY[1] and end >= FAMILY[1] + 10 and n_matches >= 1 and 0 <= hit_true <= 1
    assert min(family["methods"][1]["scores"]) == -100           # IG keeps its sign
    sp = data["proteins"][1]
    assert sp["signals"][0][:2] == [0, results["sp_length"]] and sp["signals"][0][2] == "SP"


def test_png_and_single_protein(results, tmp_path):
    png = tmp_path / "one.png"
    assert view.main([str(results["path"]), "--accession", FAMILY[0], "--out", str(png)]) == 0
    import matplotlib.image

    image = matplotlib.image.imread(png)
    assert image.shape[0] > 200 and image[..., :3].std() > 0.05
    one = tmp_path / "one.html"
    assert view.main([str(results["path"]), "--accession", FAMILY[0], "--methods", "ig", "--out", str(one)]) == 0
    data = page_data(one)
    assert len(data["proteins"]) == 1 and [m["name"] for m in data["proteins"][0]["methods"]] == ["ig"]


@pytest.mark.parametrize("case", ["unknown_accession", "missing_columns", "bad_suffix", "png_without_accession",
                                  "unknown_method", "no_hitrates"])
def test_bad_inputs(results, tmp_path, capsys, case):
    path, args = results["path"], []
    if case == "unknown_accession":
        args = ["--accession", FAMILY[0][:-1] + "X"]
    elif case == "missing_columns":
        path = tmp_path / "bad.parquet"
        pd.read_parquet(results["path"]).drop(columns=["probs"]).to_parquet(path)
    elif case == "bad_suffix":
        args = ["--out", str(tmp_path / "x.txt")]
    elif case == "png_without_accession":
        args = ["--out", str(tmp_path / "x.png")]
    elif case == "unknown_method":
        args = ["--methods", "attention,gradcam"]
    elif case == "no_hitrates":
        args = ["--hitrates", str(tmp_path / "nothing")]
    assert view.main([str(path), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err and "Traceback" not in err
    if case == "unknown_accession":
        assert f"close matches: {FAMILY[0]}" in err
    assert not list(tmp_path.glob("*.html")) and not list(tmp_path.glob("*.png"))


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def chromium(tmp_path, *args):
    # The flags keep a headless Chromium off the network (closed here) and out of the user's profile.
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=180)


class RowCounter(HTMLParser):
    """Counts residue spans per method row, peptide boxes and underlined signal residues in a DOM dump."""

    def __init__(self):
        super().__init__()
        self.stack, self.residues, self.peptide_starts, self.signal_residues, self.status = [], {}, 0, 0, None
        self._in_status = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        classes = (attrs.get("class") or "").split()
        if tag == "div":
            self.stack.append(attrs.get("data-method") or ("sequence" if attrs.get("data-sequence") else None))
        self._in_status = attrs.get("id") == "status"
        if tag == "span" and "residue" in classes:
            row = next((r for r in reversed(self.stack) if r), None)
            if row and row != "sequence":
                self.residues[row] = self.residues.get(row, 0) + 1
                self.peptide_starts += "pep-start" in classes
            elif row == "sequence":
                self.signal_residues += "sig" in classes

    def handle_endtag(self, tag):
        if tag == "div" and self.stack:
            self.stack.pop()
        self._in_status = False

    def handle_data(self, data):
        if self._in_status and data.strip():
            self.status = data.strip()


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (make test installs it as root)")
def test_page_in_headless_chromium(results, tmp_path):
    out = tmp_path / "page.html"
    assert view.main([str(results["path"]), "--out", str(out), "--signals", str(SIGNALS)]) == 0
    data = page_data(out)
    for protein in data["proteins"][:2]:
        url = f"{out.as_uri()}#{protein['acc']}"
        run = chromium(tmp_path, "--virtual-time-budget=5000", "--dump-dom", url)
        assert run.returncode == 0, run.stderr[-2000:]
        console_errors = [line for line in run.stderr.splitlines()
                          if "CONSOLE" in line and ("Uncaught" in line or "Error" in line)]
        assert not console_errors
        dom = RowCounter()
        dom.feed(run.stdout)
        assert dom.status == "ready"
        n = len(protein["seq"])
        assert dom.residues == {m["name"]: n for m in protein["methods"]}
        assert dom.peptide_starts == sum(len(m["peptides"]) for m in protein["methods"]) > 0
        assert dom.signal_residues == sum(b - a for a, b, _ in protein["signals"])
    assert dom.signal_residues == results["sp_length"] > 0     # the second protein: its signal peptide
    shot = tmp_path / "shot.png"
    run = chromium(tmp_path, "--window-size=1200,900", f"--screenshot={shot}", "--virtual-time-budget=5000",
                   f"{out.as_uri()}#{FAMILY[0]}")
    assert run.returncode == 0 and shot.is_file()
    import matplotlib.image

    pixels = matplotlib.image.imread(shot)[..., :3]
    assert pixels.shape[:2] == (900, 1200)
    assert (pixels.min(axis=2) < 0.9).mean() > 0.02         # not blank: ink on more than 2 % of the page
    assert (np.abs(pixels[..., 0] - pixels[..., 2]) > 0.2).mean() > 0.001  # and coloured residues


def test_hostile_accessions_and_paths_stay_data():
    """A path holding %DATA% and accessions holding markup end up as text, never as HTML or script."""
    import json as _json

    from pslmodels.view import render_html

    hostile = ['<img src=x onerror="alert(1)">', "<!--<script>", "</script><script>alert(2)</script>",
               "a&amp;b\u2028c"]
    records = [{"acc": acc, "methods": []} for acc in hostile]
    page = render_html(records, title="run %DATA% <b>", source="/tmp/%DATA%/<i>x</i>.parquet")
    assert page.count("var DATA = ") == 1
    assert "<img" not in page and "<!--<script>" not in page and "alert(2)</script>" not in page
    assert "%DATA%" in page and "&lt;b&gt;" in page          # the title's text, escaped, not filled in
    line = next(x for x in page.splitlines() if x.startswith("var DATA = "))
    data = _json.loads(line[len("var DATA = "):].rstrip(";"))
    assert [p["acc"] for p in data["proteins"]] == hostile    # the same strings come back in the browser


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (make test installs it as root)")
def test_hostile_page_runs_no_script_in_chromium(results, tmp_path):
    """Accessions that try to run script, written through a path holding %DATA%, opened in a real browser:
    the page works, shows the payloads as text, and none of them ran."""
    rows = results["rows"]
    payloads = ['<img src=x onerror="document.title=\'PWNED-IMG\'">',
                "</script><script>document.body.setAttribute('data-pwned','yes')</script>",
                "<!--<script>document.title='PWNED-COMMENT'</script>"]
    hostile = [(p, label, seq) for p, (_, label, seq) in zip(payloads, rows, strict=True)]
    frame = make_attributions(hostile, "attention", lambda i, s: peak(s, 5))
    folder = tmp_path / "%DATA%"
    folder.mkdir()
    path = folder / "attributions.parquet"
    frame.to_parquet(path, index=False)
    out = folder / "page %DATA%.html"
    assert view.main([str(path), "--out", str(out)]) == 0
    run = chromium(tmp_path, "--virtual-time-budget=5000", "--dump-dom", out.as_uri())
    assert run.returncode == 0, run.stderr[-2000:]
    dom = run.stdout
    assert "PWNED" not in re.search(r"<title>(.*?)</title>", dom, re.S).group(1)
    assert 'data-pwned="yes"' not in dom and "<img src=\"x\"" not in dom
    status = RowCounter()
    status.feed(dom)
    assert status.status == "ready"                           # the page's own script ran to the end
    for p in payloads:                                        # and listed each payload as text
        assert p.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") in dom
