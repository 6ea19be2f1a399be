//! A generated 837P input of many transaction sets with problems in some of them, damaged copies of
//! it, and a reader that hands it out in small pieces, for checking that the parallel reader answers
//! exactly as the sequential one (shared by the integration test and the reader's unit tests).

/// `transactions` transaction sets in interchanges of ten, with (by position): SE01 counts that are
/// wrong, a lower-case segment id, an unsupported transaction set (835), an unreadable billing NPI,
/// claims with a bad procedure code, unit basis or birth date, a GE count that is wrong, junk between
/// interchanges, interchanges with `|`, `>` and line-break delimiters, and at the end a transaction
/// the input cuts off.
pub fn generate(transactions: usize) -> Vec<u8> {
    let mut out = String::new();
    let mut i = 0;
    let mut interchange = 0;
    while i < transactions {
        interchange += 1;
        let piped = interchange % 2 == 0;
        let mut segments: Vec<String> = Vec::new();
        let in_group = (transactions - i).min(10);
        segments.push(format!("GS*HC*CPTKITTEST*CLEARINGHOUSE*20251110*0900*{interchange}*X*005010X222A1"));
        for _ in 0..in_group {
            segments.extend(transaction(i));
            i += 1;
        }
        let ge_count = if interchange % 3 == 1 { in_group + 1 } else { in_group };
        segments.push(format!("GE*{ge_count}*{interchange}"));
        segments.push(format!("IEA*1*{interchange:09}"));
        if interchange % 4 == 2 {
            out.push_str("garbage between interchanges\n");
        }
        let isa = format!(
            "ISA*00*          *00*          *ZZ*CPTKITTEST     *ZZ*CLEARINGHOUSE  *251110*0900*^*00501*{interchange:09}*0*T*:"
        );
        if piped {
            out.push_str(&isa.replace('*', "|").replace(':', ">"));
            out.push('\n');
            for s in &segments {
                out.push_str(&s.replace('*', "|").replace(':', ">"));
                out.push('\n');
            }
        } else {
            out.push_str(&isa);
            out.push_str("~\r\n");
            for s in &segments {
                out.push_str(s);
                out.push_str(if i % 3 == 0 { "~" } else { "~\n" });
            }
        }
    }
    // Cut off: a transaction with no SE, GE or IEA.
    out.push_str(
        "ISA*00*          *00*          *ZZ*CPTKITTEST     *ZZ*CLEARINGHOUSE  *251110*0900*^*00501*999999999*0*T*:~",
    );
    out.push_str("GS*HC*A*B*20251110*0900*9*X*005010X222A1~");
    for s in transaction(transactions).iter().take(12) {
        out.push_str(s);
        out.push('~');
    }
    out.into_bytes()
}

fn transaction(i: usize) -> Vec<String> {
    let ctrl = format!("{:04}", i + 1);
    let set = if i % 13 == 6 { "835" } else { "837" };
    let npi = if i % 19 == 4 { "1234567890" } else { "1234567893" };
    let mut s = vec![
        format!("ST*{set}*{ctrl}*005010X222A1"),
        format!("BHT*0019*00*{ctrl}*20251110*0900*CH"),
        "NM1*41*2*BIRMINGHAM FAMILY CLINIC*****46*CPTKITTEST".to_owned(),
        "PER*IC*BILLING OFFICE*TE*2055550100".to_owned(),
        "NM1*40*2*CLEARINGHOUSE*****46*CLEARINGHOUSE".to_owned(),
        "HL*1**20*1".to_owned(),
        "PRV*BI*PXC*207Q00000X".to_owned(),
        format!("NM1*85*2*BIRMINGHAM FAMILY CLINIC*****XX*{npi}"),
        "N3*1 FIRST AVE N".to_owned(),
        "N4*BIRMINGHAM*AL*352031234".to_owned(),
        "REF*EI*631234567".to_owned(),
    ];
    for sub in 0..(2 + i % 5) {
        let (filing, payer, payer_id) = if (i + sub).is_multiple_of(2) {
            ("MB", "MEDICARE PART B", "10112")
        } else {
            ("CI", "CIGNA HEALTHCARE", "62308")
        };
        let birth = if (i + sub) % 23 == 7 { "19501341" } else { "19500211" };
        s.extend([
            format!("HL*{}*1*22*0", sub + 2),
            format!("SBR*P*18*******{filing}"),
            format!("NM1*IL*1*WHITE*RUTH****MI*M{i:05}{sub:02}"),
            "N3*9 OAK ST".to_owned(),
            "N4*BIRMINGHAM*AL*35205".to_owned(),
            format!("DMG*D8*{birth}*F"),
            format!("NM1*PR*2*{payer}*****PI*{payer_id}"),
        ]);
        for claim in 0..(1 + (i + sub) % 3) {
            let id = format!("C{i}-{sub}-{claim}");
            let code = if (i + sub + claim) % 17 == 2 { "9921X" } else { "99213" };
            let unit = if (i + claim) % 29 == 3 { "XX" } else { "UN" };
            s.extend([
                format!("CLM*{id}*250***11:B:1*Y*A*Y*Y"),
                "HI*ABK:M1711*ABF:M5416".to_owned(),
                "NM1*82*1*JONES*MARY****XX*1558598797".to_owned(),
                "PRV*PE*PXC*207Q00000X".to_owned(),
                "LX*1".to_owned(),
                format!("SV1*HC:{code}:25*200*{unit}*1***1:2"),
                "DTP*472*D8*20251103".to_owned(),
                format!("REF*6R*{id}-1"),
                "LX*2".to_owned(),
                "SV1*HC:96372*50*UN*1***1".to_owned(),
                "DTP*472*D8*20251103".to_owned(),
                "NTE*ADD*START 0800 STOP 0830".to_owned(),
            ]);
        }
        if i % 11 == 5 && sub == 1 {
            s.push("sv1*HC:99213*200*UN*1".to_owned());
        }
    }
    let count = s.len() + 1 + usize::from(i % 7 == 3);
    s.push(format!("SE*{count}*{ctrl}"));
    s
}

/// `rounds` copies of `clean`, each with one to four bytes changed, dropped, or put in (delimiters,
/// line breaks and the first letters of envelope ids among them), from a fixed `seed`.
pub fn damaged(clean: &[u8], rounds: usize, seed: u64) -> impl Iterator<Item = Vec<u8>> + '_ {
    let mut seed = seed;
    let mut next = move || {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) as usize
    };
    (0..rounds).map(move |_| {
        let mut input = clean.to_vec();
        for _ in 0..1 + next() % 4 {
            let i = next() % input.len();
            match next() % 3 {
                0 => input[i] = next() as u8,
                1 => drop(input.remove(i)),
                _ => input.insert(i, b"*:^~\n\r SGEI"[next() % 11]),
            }
        }
        input
    })
}

/// A reader that hands out at most `.1` bytes per call.
pub struct Chunks<'a>(pub &'a [u8], pub usize);

impl std::io::Read for Chunks<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.0.len().min(buf.len()).min(self.1);
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}
