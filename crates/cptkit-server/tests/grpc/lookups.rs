//! GetCode as the Python face answers it: every locality spelled `*` or `all`, the localities asked
//! for in the BASIC view, and an unknown code's NOT_FOUND naming `code`.

use prost::Message as _;

use super::*;

fn basic(code: &str, localities: &[&str]) -> pb::GetCodeRequest {
    pb::GetCodeRequest { view: pb::CodeView::Basic.into(), ..get_code(code, localities) }
}

#[tokio::test]
async fn every_locality_is_star_or_all() {
    let server = default_server().await;
    let mut client = server.codes().await;
    let star = client.get_code(get_code("00632", &["*"])).await.expect("*").into_inner();
    let all = client.get_code(get_code("00632", &["all"])).await.expect("all").into_inner();
    assert_eq!(all, star);
    assert_eq!(all.profile.expect("profile").benchmarks.len(), 3 + 109);
    server.stop().await;
}

#[tokio::test]
async fn basic_keeps_the_localities_asked_for() {
    let server = default_server().await;
    let mut client = server.codes().await;
    let plain = client.get_code(basic("00632", &[])).await.expect("BASIC").into_inner();
    assert!(plain.profile.as_ref().expect("profile").benchmarks.is_empty(), "no localities: no benchmark rows");

    let localities = ["13202-01", "10112-00", "02102-01"];
    let answer = client.get_code(basic("00632", &localities)).await.expect("BASIC + localities").into_inner();
    assert_ne!(answer, plain, "the localities asked for are in the answer");
    let profile = answer.profile.clone().expect("profile");
    let ids: Vec<&str> = profile.benchmarks.iter().filter_map(|b| b.locality.as_ref()).map(|l| l.id.as_str()).collect();
    assert_eq!(ids, localities, "only the rows asked for, in order: {:?}", profile.benchmarks);
    assert_eq!(profile.benchmarks.len(), localities.len(), "no national rows in BASIC");
    assert!(answer.encoded_len() < 16 * 1024 / 4, "BASIC stays well under a frame: {} bytes", answer.encoded_len());

    // The rest is BASIC as without localities; FULL keeps every row, national first.
    assert_eq!(pb::CodeProfile { benchmarks: Vec::new(), ..profile.clone() }, plain.profile.expect("profile"));
    let full = client.get_code(get_code("00632", &localities)).await.expect("FULL").into_inner();
    let full = full.profile.expect("profile");
    assert_eq!(full.benchmarks.len(), 3 + localities.len());
    assert_eq!(full.benchmarks[3..], profile.benchmarks[..]);

    // A fee schedule code keeps its locality amounts, as before.
    let answer = client.get_code(basic("99213", &["13202-01"])).await.expect("99213").into_inner();
    let profile = answer.profile.expect("profile");
    assert!(profile.benchmarks.is_empty());
    assert_eq!(profile.fee_schedule.expect("fee schedule").amounts.len(), 2);
    server.stop().await;
}

#[tokio::test]
async fn an_unknown_code_names_the_field() {
    let server = default_server().await;
    let mut client = server.codes().await;
    for code in ["99999", "00101"] {
        let status = client.get_code(get_code(code, &[])).await.expect_err(code);
        assert_eq!(status.code(), Code::NotFound, "{status:?}");
        assert!(status.message().starts_with(&format!("code: {code} ")), "{}", status.message());
        assert_eq!(not_found(&status), pair("procedure code", code));
    }
    // The other lookups name it the same way, as Python's NotFoundError does.
    let status = client.get_modifier(pb::GetModifierRequest { code: "59".into() }).await.expect_err("59");
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    assert!(status.message().starts_with("code: modifier 59 "), "{}", status.message());
    assert_eq!(not_found(&status), pair("modifier", "59"));
    server.stop().await;
}
