//! GetCode as the Python face answers it: every locality spelled `*` or `all`, and an unknown code's
//! NOT_FOUND naming `code`.

use super::*;

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
async fn an_unknown_code_names_the_field() {
    let server = default_server().await;
    let mut client = server.codes().await;
    for code in ["99999", "00101"] {
        let status = client.get_code(get_code(code, &[])).await.expect_err(code);
        assert_eq!(status.code(), Code::NotFound, "{status:?}");
        assert!(status.message().starts_with(&format!("code: {code} ")), "{}", status.message());
    }
    // The other lookups name it the same way, as Python's NotFoundError does.
    let status = client.get_modifier(pb::GetModifierRequest { code: "59".into() }).await.expect_err("59");
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    assert!(status.message().starts_with("code: modifier 59 "), "{}", status.message());
    server.stop().await;
}
