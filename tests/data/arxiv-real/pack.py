#!/usr/bin/env python3
"""Rebuilds the grown part of the embedded real arXiv corpus from public repositories.

Usage: pack.py MIRRORS_DIR
  MIRRORS_DIR holds bare clones named `owner+name/repo` (e.g. from `git clone --bare`);
  every paper is read with `git show COMMIT:PATH`, so the commit pins the bytes.

Writes, next to this script:
  arXiv_src_2612_002.tar  new-style ids (YYMM/<id>.gz)
  arXiv_src_0612_001.tar  old-style ids (0612/<archive><number>.gz)
  arXiv_src_manifest.xml  arXiv's arXivSRC manifest over every arXiv_src_*.tar here
  metadata.jsonl          the first ten records (the original sample) kept verbatim, then one per new paper
  SOURCES.md              the licence table of the new papers (README.md links it)

Packaging follows arXiv's bulk format: a multi-file paper is a gzipped tar of its source
directory (TeX sources, bibliography and style files, figures up to 100 kB; build outputs
and large binaries left out); a one-file paper is its gzipped .tex. Everything is
deterministic (fixed mtimes, sorted members, gzip mtime 0), so a rerun gives the same bytes.
"""

import gzip
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import unicodedata

HERE = os.path.dirname(os.path.abspath(__file__))
MTIME = 1795348800  # 2026-11-28 00:00:00 UTC, the packaging date
SOURCE_EXT = {".tex", ".ltx", ".bbl", ".bib", ".sty", ".cls", ".bst", ".clo", ".cfg", ".def", ".txt", ".dat", ".csv"}
FIGURE_EXT = {".pdf", ".png", ".jpg", ".jpeg", ".eps", ".ps"}
FIGURE_LIMIT = 100_000
BUILD_OUTPUTS = (".aux", ".log", ".out", ".toc", ".blg", ".synctex.gz", ".fls", ".fdb_latexmk", ".lof", ".lot")

MIT = "MIT (repository LICENSE)"
APACHE = "Apache-2.0 (repository LICENSE)"
BSD3 = "BSD-3-Clause (repository LICENSE)"

# id, repository, commit, path (a directory = multi-file package, a file = one-file paper),
# categories, licence, how the id is known, title (None: from \title), notes.
PAPERS = [
    # --- mathematics
    dict(id="2612.90010", repo="bluechiperic/renewal-entropy-dimension", commit="517487877a92b4d765a3f12ec2296d06294452a1",
         path="renewal_entropy_dimension.tex", cats="math.DS math.PR", lic=MIT),
    dict(id="2612.90011", repo="teorth/equational_theories", commit="54edcda2f320cef0a241f8109fa164f901a69b87",
         path="paper", cats="math.RA cs.LO", lic=APACHE, latin1=("contributions.tex",),
         note="contributions.tex (accented contributor names) transcoded from UTF-8 to ISO-8859-1 by the corpus builder "
         "(curly quotes as TeX ligatures), as a submitter on a Latin-1 system would have written it; main.tex "
         "stays UTF-8, so the package mixes encodings as many real ones do"),
    dict(id="2612.90012", repo="teorth/pfr", commit="01c9b666945e",
         path="blueprint/src", cats="math.CO math.PR", lic=APACHE, title="PFR Blueprint",
         note="plasTeX blueprint: print.tex and web.tex are both complete documents"),
    dict(id="2612.90013", repo="fpvandoorn/carleson", commit="bd23c8ab61ec",
         path="blueprint/src", cats="math.CA", lic=APACHE, title="Carleson's theorem: a blueprint",
         note="long monograph (one 430 kB chapter file)"),
    dict(id="2612.90014", repo="fpvandoorn/carleson", commit="bd23c8ab61ec",
         path="paper", cats="math.CA cs.LO", lic=APACHE, note="UTF-8 source with Lean code listings (math symbols as Unicode)"),
    dict(id="2612.90015", repo="ImperialCollegeLondon/FLT", commit="071d16bb51e8",
         path="blueprint/src", cats="math.NT math.AG", lic=APACHE, note="long book-length blueprint, 30+ chapter files"),
    dict(id="2612.90050", repo="teorth/equational_theories", commit="54edcda2f320cef0a241f8109fa164f901a69b87",
         path="blueprint/src", cats="math.RA", lic=APACHE, title="Equational Theories Project blueprint",
         note="long blueprint; a second document of the same repository as 2612.90011"),
    dict(id="2612.90016", repo="AlexKontorovich/PrimeNumberTheoremAnd", commit="e94b9fb5509d",
         path="blueprint/src", cats="math.NT", lic=APACHE, title="Prime Number Theorem and More"),
    dict(id="2612.90017", repo="astro-informatics/sleplet", commit="a687ca986b94",
         path="paper/arxiv.tex", cats="math.NA astro-ph.IM", lic=BSD3),
    # --- statistics
    dict(id="2612.90018", repo="eggplantbren/CAR1", commit="cdbf34902ff5", path="paper/ms.tex", cats="stat.CO astro-ph.IM", lic=MIT),
    dict(id="2612.90019", repo="dfm/george", commit="b5023758d634", path="paper/ms.tex", cats="stat.CO astro-ph.IM", lic=MIT),
    dict(id="2612.90020", repo="jvpoulos/rnns-causal", commit="368d2b4924ab9d56be89ef2f6a9688c955700f3b",
         path="paper", cats="stat.ML econ.EM", lic=MIT, note="the authors' 00README.XXX (nohypertex) is in the package"),
    dict(id="2612.90021", repo="dfm/celerite-grad", commit="5c7e8aa38ba3", path="paper/ms.tex", cats="stat.CO astro-ph.IM", lic=MIT),
    dict(id="2612.90022", repo="kgullikson88/BinaryInference", commit="8602ceed369e", path="paper/ms.tex", cats="astro-ph.SR stat.AP", lic=MIT),
    # --- computer science
    dict(id="2004.14974", repo="allenai/s2orc-doc2json", commit="71c022ed4bed3ffc71d22c2ac5cdbc133ad04e3c",
         path="tests/latex/2004.14974.gz", cats="cs.CL", lic="Apache-2.0 (repository licence)", id_basis="verified: file name in repo",
         verbatim=True, title="Fact or Fiction: Verifying Scientific Claims", note="byte-identical arXiv e-print (gzipped tar)"),
    dict(id="2612.90023", repo="cksystemsgroup/hurdy-gurdy", commit="cac5a1a797af", path="paper", cats="cs.LO cs.PL", lic=MIT),
    dict(id="2612.90024", repo="scipy/scipy-articles", commit="5498688844f8", path="scipy-1.0", cats="cs.MS cs.DS physics.comp-ph",
         lic=BSD3, note="also holds the cover letter and rebuttal as complete documents"),
    dict(id="1911.13021", repo="forgi86/efficient-calibration-embedded-MPC", commit="ac42a7ebe9e3", path="paper/ms.tex",
         cats="eess.SY cs.LG", lic=MIT, id_basis="README links the paper"),
    dict(id="2006.02915", repo="forgi86/sysid-neural-continuous", commit="956aa7ecd730", path="doc/paper/ms.tex",
         cats="eess.SY cs.LG", lic=APACHE, id_basis="README links the paper"),
    dict(id="2206.12928", repo="forgi86/sysid-neural-estimator", commit="7473be56be61", path="paper/ms.tex",
         cats="eess.SY cs.LG", lic=MIT, id_basis="README links the paper"),
    dict(id="1905.07682", repo="Strilanc/windowed-quantum-arithmetic", commit="97d8ecf74654", path=".",
         cats="quant-ph cs.ET", lic=APACHE, id_basis="README links the paper", only=("main.tex", "qcircuit.tex")),
    dict(id="2612.90025", repo="Strilanc/quantum-block-lookahead-adder", commit="b85c3f6908c5", path=".",
         cats="quant-ph cs.ET", lic=APACHE, only=("main.tex", "qcircuit.tex", "gen/comparison_table.tex")),
    dict(id="quant-ph/0612901", repo="Strilanc/PaperImpl-2017-DirtyPeriodFinding", commit="402d216e5c16", path="doc/paper.tex",
         cats="quant-ph cs.ET", lic=APACHE, id_basis="placeholder old-style id (the paper is arXiv:1706.07884 per its README); "
         "quant-ph numbers never reached 900 in a month, so it names no real paper",
         note="stands in for a pre-2007 submission: old-style id, stored as 0612/quant-ph0612901.gz"),
    # --- physics (astrophysics, condensed matter)
    dict(id="2612.90026", repo="RuthAngus/stardate", commit="ba6ecbdfdc0a", path="paper", cats="astro-ph.SR astro-ph.GA", lic=MIT,
         note="ms.tex \\include-s section files; master.tex is an older complete draft"),
    dict(id="1910.01133", repo="lgbouma/cdips", commit="e7209c5d2b05", path="paper_I", cats="astro-ph.EP astro-ph.SR", lic=MIT,
         id_basis="README links the paper"),
    dict(id="2612.90027", repo="RuthAngus/aviary", commit="df780bea1b44", path="paper", cats="astro-ph.SR", lic=MIT),
    dict(id="2612.90028", repo="RuthAngus/chronometer", commit="f653b093a99e", path="paper/ms.tex", cats="astro-ph.SR", lic=MIT),
    dict(id="2612.90029", repo="dfm/exoabc", commit="8bbce60d9baa", path="paper", cats="astro-ph.EP stat.CO", lic=MIT),
    dict(id="2612.90030", repo="KeplerGO/lightkurve-paper", commit="1683516b0e4d", path="paper/ms.tex", cats="astro-ph.IM", lic=MIT),
    dict(id="2612.90031", repo="davidwhogg/TGASrewinder", commit="194d4109a0f6", path="paper/ms.tex", cats="astro-ph.SR", lic=MIT,
         title="Finding old, disrupted stellar systems in Gaia TGAS",
         note="a 2 kB stub: real dumps hold such drafts"),
    dict(id="1610.08563", repo="jradavenport/gaia_rot", commit="e53c151fb869", path="paper/ms.tex", cats="astro-ph.SR", lic=MIT,
         id_basis="README links the paper"),
    dict(id="2612.90032", repo="lgbouma/billy", commit="aa70e55c6108", path="paper", cats="astro-ph.SR astro-ph.EP", lic=MIT),
    dict(id="2612.90033", repo="alchem0x2A/paper.2D_dielectric", commit="df6718840e74", path=".", cats="cond-mat.mtrl-sci physics.comp-ph",
         lic=MIT, only=("00README.XXX", "paper.tex", "SI.tex", "raw_data.tex"),
         note="the authors' 00README.XXX names a main.tex the repository does not hold"),
    dict(id="2612.90034", repo="RuthAngus/kepler_kinematics", commit="5eb2ef2e88c1", path="paper", cats="astro-ph.SR astro-ph.GA", lic=MIT,
         readme_json="arxiv.tex",
         note="00README.json (toplevel arxiv.tex, the flattened arXiv version) added by the corpus builder; ms.tex is the \\input draft"),
    dict(id="2612.90035", repo="RuthAngus/kinematics-and-rotation", commit="7cad283612bc", path="paper", cats="astro-ph.SR", lic=MIT,
         readme_xxx="ms63.tex",
         note="00README.XXX (ms63.tex toplevelfile; ms63.tex's first line records it was the zipped submission) added by the corpus builder"),
    dict(id="2612.90036", repo="RuthAngus/teacups", commit="299863eb2e57", path="paper", cats="astro-ph.SR", lic=MIT),
    dict(id="2612.90037", repo="RuthAngus/gyroscope", commit="119496154e14", path="paper/ms.tex", cats="astro-ph.SR", lic=MIT),
    dict(id="2612.90038", repo="lgbouma/gyrojo", commit="545a473ebada", path="papers/paper", cats="astro-ph.SR astro-ph.EP", lic=MIT),
    dict(id="2612.90039", repo="lgbouma/cpv", commit="92ce59b20b77", path="papers/Bouma_2024_CPVs/paper", cats="astro-ph.SR", lic=MIT),
    dict(id="2612.90040", repo="adrn/triforce", commit="2ece7a689c11", path="paper/ms.tex", cats="astro-ph.GA", lic=MIT),
    dict(id="2612.90041", repo="adrn/BarChaos", commit="1f6619763efb", path="paper", cats="astro-ph.GA", lic=MIT),
    dict(id="2612.90042", repo="jradavenport/gaia2_kep_rot", commit="455c76ed9926", path="paper/ms.tex", cats="astro-ph.SR", lic=MIT),
    dict(id="1406.2692", repo="ChrisBeaumont/brut", commit="f4223b84448d", path="paper/ms.tex", cats="astro-ph.IM astro-ph.GA", lic=MIT,
         id_basis="README links the paper"),
    dict(id="2612.90043", repo="barentsen/geerts-conjecture", commit="8f46fd0623a3", path="paper/ms.tex", cats="astro-ph.IM stat.CO", lic=MIT),
    dict(id="1604.08036", repo="gfeiden/MagneticUpperSco", commit="9a9d16ddeb14", path="paper/arXiv/ms.tex", cats="astro-ph.SR", lic=MIT,
         id_basis="README links the paper"),
    dict(id="1607.03494", repo="jradavenport/kepler_flares1", commit="9471b4981b86", path="paper/ms.tex", cats="astro-ph.SR", lic=MIT,
         id_basis="README links the paper"),
    dict(id="2612.90044", repo="kgullikson88/DSD-Paper", commit="40e884b29631", path="paper/ms.tex", cats="astro-ph.SR", lic=MIT),
    dict(id="2612.90046", repo="kgullikson88/Companion-Finder", commit="538818fe26cd", path="paper/ms.tex", cats="astro-ph.SR", lic=MIT),
    dict(id="2612.90047", repo="RuthAngus/action-time", commit="b6c8b45d1c49", path="paper/ms.tex", cats="astro-ph.SR", lic=MIT),
    dict(id="2612.90048", repo="RuthAngus/gauge", commit="110cb96830d2", path="paper", cats="astro-ph.SR", lic=MIT),
    dict(id="2612.90049", repo="RuthAngus/extragalactic-exoplanets", commit="10df4805f412", path="paper", cats="astro-ph.EP", lic=MIT),
    dict(id="2612.90045", repo="dfm/rotate", commit="9c62039b21ed", path="paper/ms.tex", cats="astro-ph.SR", lic=APACHE),
]


def git(repo_dir, *args):
    return subprocess.run(["git", "-C", repo_dir, *args], check=True, capture_output=True).stdout


def repo_dir(mirrors, repo):
    d = os.path.join(mirrors, repo.replace("/", "+"), "repo")
    return d + "/.git" if os.path.isdir(d + "/.git") else d


def full_commit(rd, commit):
    return git(rd, "rev-parse", commit + "^{commit}").decode().strip()


def keep(path, size):
    low = path.lower()
    if low.endswith(BUILD_OUTPUTS) or os.path.basename(path).startswith("._"):
        return False
    ext = os.path.splitext(low)[1]
    if "00readme" in low or ext in SOURCE_EXT:
        return True
    return ext in FIGURE_EXT and size <= FIGURE_LIMIT


def package_files(rd, commit, p):
    """{path in package: bytes} of a multi-file paper."""
    prefix = "" if p["path"] == "." else p["path"].rstrip("/") + "/"
    listing = git(rd, "ls-tree", "-r", "-l", "-z", commit, "--", prefix or ".").split(b"\0")
    files = {}
    for row in filter(None, listing):
        meta, path = row.split(b"\t", 1)
        kind, size = meta.split()[1], meta.split()[3]
        path = path.decode()
        rel = path[len(prefix):]
        # A blob the mirror lacks (its largest files may be absent) is left out like a large figure.
        if kind != b"blob" or not size.isdigit() or ("only" in p and rel not in p["only"]) or not keep(rel, int(size)):
            continue
        files[rel] = git(rd, "show", f"{commit}:{path}")
    return files


def tar_bytes(files):
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name in sorted(files):
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(files[name]), MTIME, 0o644
            tar.addfile(info, io.BytesIO(files[name]))
    return out.getvalue()


ACCENTS = {0x300: "`", 0x301: "'", 0x302: "^", 0x303: "~", 0x304: "=", 0x306: "u", 0x308: '"', 0x30B: "H", 0x30C: "v", 0x327: "c"}


def to_latin1(text: bytes) -> bytes:
    """What a submitter writing ISO-8859-1 would have typed: Latin-1 letters as bytes, others as TeX accents."""
    s = text.decode("utf-8").replace("[utf8]{inputenc}", "[latin1]{inputenc}")
    for quote, ligature in {"\u201c": "``", "\u201d": "''", "\u2018": "`", "\u2019": "'", "\u2013": "--", "\u2014": "---"}.items():
        s = s.replace(quote, ligature)
    out = []
    for ch in s:
        if ord(ch) < 256:
            out.append(ch)
            continue
        base, *marks = unicodedata.normalize("NFD", ch)
        assert len(marks) == 1 and ord(marks[0]) in ACCENTS, f"no Latin-1 spelling for {ch!r}"
        out.append("\\" + ACCENTS[ord(marks[0])] + "{" + base + "}")
    return "".join(out).encode("iso-8859-1")


def group(tex, start):
    """The balanced {...} group starting at or after `start`."""
    i = tex.find("{", start)
    if i < 0:
        return None
    depth = 0
    for j in range(i, len(tex)):
        depth += {"{": 1, "}": -1}.get(tex[j], 0)
        if depth == 0:
            return tex[i + 1:j]
    return None


def without_comments(tex):
    return re.sub(r"(?m)(?<!\\)%.*$", "", tex)


def first_title(texts):
    for t in map(without_comments, texts):
        for m in re.finditer(r"(?m)^[^%\n]*?\\title\s*(\[[^\]]*\])?", t):
            g = group(t, m.end())
            if g and g.strip():
                return re.sub(r"\s+", " ", re.sub(r"\\\\|\\textbf|\\bf", " ", g)).replace("{", "").replace("}", "").strip()
    return None


def first_abstract(texts):
    for code in map(without_comments, texts):
        m = re.search(r"\\begin\{abstract\}(.*?)\\end\{abstract\}", code, re.S)
        if m and m.group(1).strip():
            return re.sub(r"\s+", " ", m.group(1)).strip()
    return None


def member_name(arxiv_id):
    """`YYMM/<id>.gz`; old-style ids lose their slash (`quant-ph/0612901` -> `0612/quant-ph0612901.gz`)."""
    if "/" in arxiv_id:
        archive, number = arxiv_id.split("/")
        return f"{number[:4]}/{archive}{number}.gz"
    return f"2612/{arxiv_id}.gz"


def build(mirrors):
    members = {}  # tar name -> {member: gz bytes}
    records, rows = [], []
    for p in PAPERS:
        rd = repo_dir(mirrors, p["repo"])
        commit = full_commit(rd, p["commit"])
        is_file = p.get("verbatim") or p["path"].endswith(".tex")
        if p.get("verbatim"):
            gz = git(rd, "show", f"{commit}:{p['path']}")
            inner = gzip.decompress(gz)
            files = {m.name: inner for m in []}
            with tarfile.open(fileobj=io.BytesIO(inner)) as t:
                files = {m.name: t.extractfile(m).read() for m in t.getmembers() if m.isfile()}
        elif is_file:
            files = {os.path.basename(p["path"]): git(rd, "show", f"{commit}:{p['path']}")}
            gz = gzip.compress(files[os.path.basename(p["path"])], 9, mtime=0)
        else:
            files = package_files(rd, commit, p)
            for name in p.get("latin1", ()):
                files[name] = to_latin1(files[name])
            if "readme_xxx" in p:
                files["00README.XXX"] = f"{p['readme_xxx']} toplevelfile\n".encode()
            if "readme_json" in p:
                files["00README.json"] = (json.dumps({"sources": [{"filename": p["readme_json"], "usage": "toplevel"}]}, indent=2) + "\n").encode()
            gz = gzip.compress(tar_bytes(files), 9, mtime=0)
        name = member_name(p["id"])
        tar_name = f"arXiv_src_{name[:4]}_{'001' if name[:4] != '2612' else '002'}.tar"
        members.setdefault(tar_name, {})[name] = gz
        texts = [b.decode("utf-8", "replace") for f, b in sorted(files.items()) if f.lower().endswith((".tex", ".ltx"))]
        title = p.get("title") or first_title(texts)
        abstract = first_abstract(texts)
        assert title, f"{p['id']}: no \\title; give one in PAPERS"
        unfilled = ["submitter", "authors", "comments", "journal-ref", "doi", "report-no", "license", "versions", "update_date", "authors_parsed"]
        if abstract is None:
            unfilled.append("abstract")
        records.append({
            "id": p["id"], "submitter": None, "authors": None, "title": title, "comments": None, "journal-ref": None,
            "doi": None, "report-no": None, "categories": p["cats"], "license": None, "abstract": abstract,
            "versions": None, "update_date": None, "authors_parsed": None,
            "_sample": {
                "tier": "B", "id_basis": p.get("id_basis", "placeholder: arXiv id not confirmed"),
                "source_repo": p["repo"], "source_commit": commit, "source_path": p["path"],
                "redistribution_license": p["lic"], "license_basis": "repository LICENSE file at that commit covers the paper's source",
                "unfilled_fields": unfilled,
                "inferred_fields": ["categories (assigned by the corpus builder, not from arXiv)",
                                    "title/abstract (extracted from the LaTeX source, not from arXiv)"],
                "files_in_package": sorted(files), "note": p.get("note", ""),
            },
        })
        fmt = "e-print" if p.get("verbatim") else ("single .tex" if is_file else f"tar, {len(files)} files")
        rows.append(f"| {p['id']} | {p['cats']} | {p['lic']} | {p['repo']} @ {commit[:12]} : {p['path']} | {fmt} | {title[:70]} |")
    for tar_name, content in members.items():
        out = io.BytesIO()
        with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar:
            dirs = sorted({m.split("/")[0] for m in content})
            for d in dirs:
                info = tarfile.TarInfo(d)
                info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, MTIME
                tar.addfile(info)
            for m in sorted(content):
                info = tarfile.TarInfo(m)
                info.size, info.mtime, info.mode = len(content[m]), MTIME, 0o644
                tar.addfile(info, io.BytesIO(content[m]))
        with open(os.path.join(HERE, tar_name), "wb") as f:
            f.write(out.getvalue())
    write_manifest()
    with open(os.path.join(HERE, "metadata.jsonl"), encoding="utf-8") as f:
        original = f.read().splitlines()[:10]
    with open(os.path.join(HERE, "metadata.jsonl"), "w", encoding="utf-8") as f:
        for line in original:
            f.write(line + "\n")
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    with open(os.path.join(HERE, "SOURCES.md"), "w", encoding="utf-8") as f:
        f.write("# Papers added to the real corpus (written by pack.py)\n\n")
        f.write("| id | subject | licence | source repository @ commit : path | package | title |\n|---|---|---|---|---|---|\n")
        f.write("\n".join(rows) + "\n")


def write_manifest():
    """arXiv's arXivSRC manifest: per tar its md5, the md5 of its members' content, first/last item."""
    blocks = []
    for name in sorted(n for n in os.listdir(HERE) if re.match(r"arXiv_src_\d{4}_\d{3}\.tar$", n)):
        path = os.path.join(HERE, name)
        data = open(path, "rb").read()
        content = hashlib.md5()
        items = []
        with tarfile.open(path) as tar:
            for m in tar.getmembers():
                if m.isfile():
                    content.update(tar.extractfile(m).read())
                    items.append(os.path.basename(m.name)[: -len(".gz")])
        yymm, seq = name[10:14], name[15:18]
        blocks.append(f"""  <file>
    <content_md5sum>{content.hexdigest()}</content_md5sum>
    <filename>src/{name}</filename>
    <first_item>{min(items)}</first_item>
    <last_item>{max(items)}</last_item>
    <md5sum>{hashlib.md5(data).hexdigest()}</md5sum>
    <num_items>{len(items)}</num_items>
    <seq_num>{int(seq)}</seq_num>
    <size>{len(data)}</size>
    <timestamp>2026-11-28 05:40:00</timestamp>
    <yymm>{yymm}</yymm>
  </file>
""")
    with open(os.path.join(HERE, "arXiv_src_manifest.xml"), "w") as f:
        f.write("<?xml version='1.0' standalone='yes'?>\n<arXivSRC>\n" + "".join(blocks) + "<timestamp>Sat Nov 28 05:40:00 2026</timestamp>\n</arXivSRC>\n")


if __name__ == "__main__":
    build(sys.argv[1] if len(sys.argv) > 1 else "/work/.mirror")
