//! Code profile assembly (what GetCode and `cptkit.code` build before caching): an anesthesia code
//! (00632, the baseline) beside fee schedule codes (99213 a visit, 72148 with 26/TC rows, 43239 in an
//! endoscopy family), and search over every code. Run: `cargo bench -p cptkit-core --bench profiles`.

use std::hint::black_box;

use cptkit_core::{CodeQuery, CptCode, PageRequest, ProfileOptions, Reference};
use criterion::{Criterion, criterion_group, criterion_main};

fn bench(c: &mut Criterion) {
    let reference = Reference::embedded();
    reference.warm().expect("tables");
    assert!(reference.code_summaries().expect("code index").len() > 16_000, "the code index is built");
    let options = ProfileOptions::default();

    let mut group = c.benchmark_group("profile");
    for code in ["00632", "99213", "72148", "43239"] {
        let parsed: CptCode = code.parse().expect("code");
        group.bench_function(code, |b| b.iter(|| reference.profile(black_box(parsed), &options).map(|p| p.code)));
    }
    group.finish();

    let mut group = c.benchmark_group("search");
    let page = PageRequest::default();
    let queries = [
        ("range", CodeQuery { codes: "99202-99215".into(), ..CodeQuery::default() }),
        ("words", CodeQuery { text: "dexamethasone".into(), ..CodeQuery::default() }),
        (
            "section_status",
            CodeQuery { section: Some("Radiology".into()), status: Some("A".into()), ..CodeQuery::default() },
        ),
    ];
    for (name, query) in &queries {
        group.bench_function(*name, |b| {
            b.iter(|| reference.search_codes(black_box(query), &page).map(|p| p.total_size))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
