#!/usr/bin/env python3
"""Build crates/cptkit-core/data/icd10cm_2026_04.tsv from the official
ICD-10-CM tabular XML (April 1, 2026 update of FY2026).

Source: the tabular XML shipped inside the PyPI wheel simple-icd-10-cm==1.5.0
(simple_icd_10_cm/data/icd10c-tabular-April-1-2026.xml). The XML is parsed
here with xml.etree; the simple_icd_10_cm library code is NOT used.

Usage:
    python3 scripts/build_icd10cm.py                 # pip-downloads the pinned wheel
    python3 scripts/build_icd10cm.py --xml FILE.xml  # use a local copy of the XML
    python3 scripts/build_icd10cm.py --check         # rebuild, fail if output differs

Rules applied (see the tabular's conventions):
  * every <diag> (3-character category, subcategory, code) is emitted;
    chapters and blocks (<chapter>, <section>) are not.
  * a <diag> with child <diag>s is a header (billable = 0).
  * a leaf <diag> to which a <sevenChrDef> applies (its own or the nearest
    ancestor's) is NOT billable itself; for each 7th character of that
    definition a code is generated: the code is padded with the placeholder
    "X" to 6 characters (plus the dot) and the 7th character appended, e.g.
    S72.001 + A -> S72.001A, T15.00 + A -> T15.00XA, and its title is
    "<leaf title>, <7th character description>". Those are billable.
  * any other leaf <diag> is billable.

  * one restriction is stated only as prose in the tabular (a <note> under
    S06): "7th characters D and S do not apply to codes in category S06 with
    6th character 7 ... or 8 ...". It is applied here (S06.xx7/S06.xx8 get
    only A); the script checks that the note is still in the XML.

Cross-check: in wheel mode (or with --code-list) every emitted code is checked
against the wheel's companion list simple_icd_10_cm/data/code-list-April-2026.txt
(both directions); any difference is an error.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import subprocess
import sys
import tempfile
import zipfile
import xml.etree.ElementTree as ET
from pathlib import Path

PACKAGE = "simple-icd-10-cm"
VERSION = "1.5.0"
XML_NAME = "icd10c-tabular-April-1-2026.xml"
XML_MEMBER = f"simple_icd_10_cm/data/{XML_NAME}"
CODELIST_NAME = "code-list-April-2026.txt"
CODELIST_MEMBER = f"simple_icd_10_cm/data/{CODELIST_NAME}"

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "crates" / "cptkit-core" / "data" / "icd10cm_2026_04.tsv"


def fetch_wheel_members() -> tuple[bytes, bytes]:
    """pip-download the pinned wheel and return (xml bytes, code-list bytes)."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
             f"{PACKAGE}=={VERSION}", "-d", tmp],
            check=True, stdout=sys.stderr,
        )
        wheels = list(Path(tmp).glob("*.whl"))
        if len(wheels) != 1:
            sys.exit(f"expected one wheel in {tmp}, found {wheels}")
        with zipfile.ZipFile(wheels[0]) as z:
            return z.read(XML_MEMBER), z.read(CODELIST_MEMBER)


def load_code_list(data: bytes) -> set[str]:
    """Undotted codes from the companion list (one code per line, CRLF)."""
    out = set()
    for line in data.decode("utf-8").splitlines():
        tok = line.strip().split(" ")[0].replace(".", "")
        if tok:
            out.add(tok)
    return out


def seven_chr_def(diag: ET.Element) -> list[tuple[str, str]] | None:
    d = diag.find("sevenChrDef")
    if d is None:
        return None
    # Only <extension> elements define characters; a trailing <note> in a
    # sevenChrDef (H34.81-) is explanatory and not part of the title.
    return [(e.attrib["char"], " ".join((e.text or "").split())) for e in d.findall("extension")]


def walk(diag: ET.Element, inherited, rows: list, expansions: list) -> None:
    code = diag.findtext("name").strip()
    title = " ".join((diag.findtext("desc") or "").split())
    own = seven_chr_def(diag)
    applies = own if own is not None else inherited
    children = diag.findall("diag")
    if children:
        rows.append((code, 0, title))
        for c in children:
            walk(c, applies, rows, expansions)
    elif applies:
        rows.append((code, 0, title))
        base = code if "." in code else code + "."
        base = base.ljust(7, "X")  # 3 chars + dot + 3 chars
        if len(base) != 7:
            sys.exit(f"{code}: sevenChrDef applies to a code longer than 6 characters")
        for ch, desc in applies:
            if base.startswith("S06.") and base[6] in "78" and ch in "DS":
                continue  # S06 note: D and S do not apply with 6th character 7 or 8
            expansions.append((base + ch, 1, f"{title}, {desc}"))
    else:
        rows.append((code, 1, title))


def build(xml_bytes: bytes, valid: set[str] | None):
    root = ET.fromstring(xml_bytes)
    rows: list = []
    expansions: list = []
    for chapter in root.findall("chapter"):
        for section in chapter.findall("section"):
            for diag in section.findall("diag"):
                walk(diag, None, rows, expansions)
    S06_NOTE = "7th characters D and S do not apply to codes in category S06 with 6th character 7"
    if not any(S06_NOTE in (n.text or "") for n in root.iter("note")):
        sys.exit("S06 7th-character restriction note not found in XML: re-check the rules")
    allrows = rows + expansions
    codes = [r[0] for r in allrows]
    if len(codes) != len(set(codes)):
        sys.exit("duplicate codes produced")
    allrows.sort(key=lambda r: r[0].encode())
    if valid is not None:
        mine = {c.replace(".", "") for c in codes}
        listed = {c for c in valid if "-" not in c and not c.isdigit()}  # drop chapters/blocks
        if mine != listed:
            sys.exit(f"mismatch with code list: only in XML build {sorted(mine - listed)[:20]}, "
                     f"only in list {sorted(listed - mine)[:20]}")
    return allrows, root.findtext("version")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--xml", type=Path, help="tabular XML to read instead of downloading the wheel")
    ap.add_argument("--code-list", type=Path,
                    help=f"{CODELIST_NAME} from the same wheel, to drop non-existent 7th-char expansions")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--check", action="store_true", help="do not write; exit 1 if --out would change")
    args = ap.parse_args()

    if args.xml:
        xml_bytes = args.xml.read_bytes()
        xml_name = args.xml.name
        cl_bytes = args.code_list.read_bytes() if args.code_list else None
    else:
        xml_bytes, cl_bytes = fetch_wheel_members()
        xml_name = XML_NAME
        if args.code_list:
            cl_bytes = args.code_list.read_bytes()
    sha = hashlib.sha256(xml_bytes).hexdigest()
    valid = load_code_list(cl_bytes) if cl_bytes is not None else None

    rows, version = build(xml_bytes, valid)
    total = len(rows)
    billable = sum(r[1] for r in rows)

    buf = io.StringIO()
    w = buf.write
    w("# ICD-10-CM code set, FY2026 (effective 2025-10-01), April 1, 2026 update (release date 2026-04-01)\n")
    w(f"# source: PyPI package {PACKAGE}=={VERSION}, file {XML_MEMBER} (official CDC/NCHS tabular XML, <version>{version}</version>)\n")
    w(f"# source sha256: {sha}\n")
    w("# generated by scripts/build_icd10cm.py (parses the XML with xml.etree); do not edit by hand\n")
    w("# 7th-character codes are generated from <sevenChrDef> (own or inherited), padding with X to 6 chars;\n")
    w("#   title = parent title + \", \" + 7th-character description; S06 note applied (6th char 7/8: 7th char A only)\n")
    w(f"# codes: {total} total, {billable} billable\n")
    w("# columns (tab-separated): code (dotted, e.g. S72.001A) | billable (1 = valid for claims, 0 = header) | title\n")
    w("# sorted by code in byte order\n")
    for code, b, title in rows:
        if "\t" in title or "\n" in title:
            sys.exit(f"bad title for {code}")
        w(f"{code}\t{b}\t{title}\n")
    text = buf.getvalue()

    print(f"xml: {xml_name} sha256={sha}", file=sys.stderr)
    print(f"total codes: {total}  billable: {billable}  non-billable: {total - billable}", file=sys.stderr)
    if valid is None:
        print("note: no code list given; result not cross-checked against the package code list", file=sys.stderr)
    else:
        print("code set equals the package's code list", file=sys.stderr)

    if args.check:
        cur = args.out.read_text(encoding="utf-8") if args.out.exists() else None
        if cur != text:
            print(f"{args.out} is out of date", file=sys.stderr)
            return 1
        print(f"{args.out} is up to date", file=sys.stderr)
        return 0
    args.out.write_text(text, encoding="utf-8", newline="\n")
    print(f"wrote {args.out} ({len(text.encode())} bytes)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
