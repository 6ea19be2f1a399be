#!/usr/bin/env python3
"""Writes a deterministic 837P (005010X222A1) file of about SIZE_MB megabytes for the X12 benchmark.

    python3 bench/x12/generate_837.py OUT.x12 [SIZE_MB=100]

The claims look like an anesthesia group's month: Medicare Part B, Medicare Advantage and commercial
payers; 1-3 service lines in minutes (MJ) with START/STOP notes; some dependents (2000C); some
physician (QK) + CRNA (QX, 2420A) pairs. Every claim passes cptkit's core validation, so the
validate + price phase prices them all. Same arguments, same bytes (a fixed-seed generator).
"""
import random
import sys

out_path = sys.argv[1] if len(sys.argv) > 1 else "bench/out/x12/bench_837.x12"
size_mb = float(sys.argv[2]) if len(sys.argv) > 2 else 100.0
target = int(size_mb * 1_000_000)
rng = random.Random(837)

CODES = [("00632", 7), ("00630", 8), ("00635", 4), ("00640", 3), ("00620", 10), ("00670", 13)]
DX = ["M5416", "M48062", "M48061", "M5417", "G90521"]
PAYERS = [("MB", "MEDICARE PART B", "01112"), ("16", "HUMANA", "61101"), ("CI", "CIGNA HEALTHCARE", "62308")]
PHYS = ("1234567893", "207L00000X")
CRNA = ("1558598797", "367500000X")


def isa(ctrl):
    s = "*".join(["ISA", "00", " " * 10, "00", " " * 10, "ZZ", "CPTKITBENCH".ljust(15), "ZZ",
                  "CLEARINGHOUSE".ljust(15), "250310", "1200", "^", "00501", f"{ctrl:09d}", "0", "P", ":"]) + "~\n"
    assert len(s) == 107
    return s


def claim_segments(n):
    segs = []
    filing, payer_name, payer_id = PAYERS[n % 3] if n % 7 else PAYERS[0]
    member = f"M{n:010d}"
    birth = f"{rng.randint(1940, 1990)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    dependent = filing == "CI" and n % 5 == 0
    segs.append(["SBR", "P", "" if dependent else "18", "GRP" + str(n % 97), "", "", "", "", "", filing])
    segs.append(["NM1", "IL", "1", "LAST" + str(n % 1000), "FIRST", "", "", "", "MI", member])
    segs.append(["N3", f"{n % 9000 + 1} OAK ST"])
    segs.append(["N4", "SPRINGFIELD", "IL", "62704"])
    segs.append(["DMG", "D8", birth, "F" if n % 2 else "M"])
    segs.append(["NM1", "PR", "2", payer_name, "", "", "", "", "PI", payer_id])
    patient = None
    if dependent:
        kid = f"{rng.randint(2000, 2015)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
        patient = [["PAT", "19"], ["NM1", "QC", "1", "LAST" + str(n % 1000), "CHILD"],
                   ["N3", f"{n % 9000 + 1} OAK ST"], ["N4", "SPRINGFIELD", "IL", "62704"], ["DMG", "D8", kid, "M"]]
    code, _base = CODES[n % len(CODES)]
    day = 1 + n % 28
    month = 1 + (n // 28) % 12
    dos = f"2025{month:02d}{day:02d}"
    start = 7 * 60 + (n * 7) % 600
    minutes = 30 + (n * 13) % 180
    stop = start + minutes
    note = f"START {start // 60:02d}{start % 60:02d} STOP {stop // 60 % 24:02d}{stop % 60:02d}"
    dx = [DX[n % 2], DX[2 + n % 3]]
    pair = filing == "MB" and n % 4 == 0
    lines = []
    if pair:
        lines.append((code, ["QK", "P2"], minutes, None))
        lines.append((code, ["QX", "P2"], minutes, CRNA))
    else:
        mods = ["AA"] + (["P" + str(1 + n % 3)] if n % 2 else [])
        lines.append((code, mods, minutes, None))
        if n % 9 == 0:
            lines.append(("99100", [], 1, None))
    total = 0
    body = []
    for i, (c, mods, qty, rendering) in enumerate(lines, 1):
        charge = 1500 + (n % 50) * 10 if c != "99100" else 150
        total += charge
        body.append(["LX", str(i)])
        unit = "UN" if c == "99100" else "MJ"
        body.append(["SV1", ":".join(["HC", c] + mods), str(charge), unit, str(qty), "", "", "1:2" if c != "99100" else "1"])
        body.append(["DTP", "472", "D8", dos])
        body.append(["REF", "6R", f"L{n}-{i}"])
        if c != "99100":
            body.append(["NTE", "ADD", note])
        if rendering:
            body.append(["NM1", "82", "1", "RIVERA", "SAM", "", "", "", "XX", rendering[0]])
            body.append(["PRV", "PE", "PXC", rendering[1]])
    clm = [["CLM", f"B{n:08d}", str(total), "", "", "21:B:1", "Y", "A", "Y", "Y"],
           ["DTP", "435", "D8", dos],
           ["HI", f"ABK:{dx[0]}", f"ABF:{dx[1]}"],
           ["NM1", "82", "1", "SMITH", "ALEX", "", "", "", "XX", PHYS[0]],
           ["PRV", "PE", "PXC", PHYS[1]]]
    return segs, patient, clm + body


def main():
    import os
    os.makedirs(os.path.dirname(out_path) or ".", exist_ok=True)
    written = 0
    n = 0
    interchange = 0
    with open(out_path, "w", newline="") as f:
        while written < target:
            interchange += 1
            chunks = [isa(interchange)]
            chunks.append(f"GS*HC*CPTKITBENCH*CLEARINGHOUSE*20250310*1200*{interchange}*X*005010X222A1~\n")
            for t in range(1, 11):  # 10 transactions of up to 2000 claims per interchange
                st = f"{t:04d}"
                segs = [["ST", "837", st, "005010X222A1"], ["BHT", "0019", "00", st, "20250310", "1200", "CH"],
                        ["NM1", "41", "2", "LUMBAR ANESTHESIA GROUP", "", "", "", "", "46", "CPTKITBENCH"],
                        ["PER", "IC", "BILLING OFFICE", "TE", "8005550100"],
                        ["NM1", "40", "2", "CLEARINGHOUSE", "", "", "", "", "46", "CLEARINGHOUSE"],
                        ["HL", "1", "", "20", "1"], ["PRV", "BI", "PXC", "207L00000X"],
                        ["NM1", "85", "2", "LUMBAR ANESTHESIA GROUP", "", "", "", "", "XX", PHYS[0]],
                        ["N3", "100 MAIN ST"], ["N4", "SPRINGFIELD", "IL", "627011234"], ["REF", "EI", "371234567"]]
                hl = 1
                for _ in range(2000):
                    n += 1
                    sub, patient, claim = claim_segments(n)
                    hl += 1
                    sub_hl = hl
                    segs.append(["HL", str(hl), "1", "22", "1" if patient else "0"])
                    segs.extend(sub)
                    if patient:
                        hl += 1
                        segs.append(["HL", str(hl), str(sub_hl), "23", "0"])
                        segs.extend(patient)
                    segs.extend(claim)
                segs.append(["SE", str(len(segs) + 1), st])
                text = "".join("*".join(s).rstrip("*") + "~\n" for s in segs)
                chunks.append(text)
            chunks.append(f"GE*10*{interchange}~\n")
            chunks.append(f"IEA*1*{interchange:09d}~\n")
            block = "".join(chunks)
            f.write(block)
            written += len(block)
    print(f"{out_path}: {written / 1e6:.1f} MB, {n} claims, {interchange} interchanges")


if __name__ == "__main__":
    main()
