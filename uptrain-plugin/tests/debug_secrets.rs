//! Keys and URL credentials never reach `Debug`: the judge, the UpTrain API client and the
//! handler's configuration print their URLs with passwords and query values redacted.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use uptrain_plugin::{JudgeEvaluator, UptrainApiEvaluator, UptrainHandler};

const SECRETS: [&str; 3] = ["url-pass-111", "url-key-222", "sk-key-333"];
const URL: &str = "http://team:url-pass-111@127.0.0.1:9/v1?api_key=url-key-222";

fn assert_hidden(shown: &str) {
    for secret in SECRETS {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
    assert!(shown.contains("team:***@127.0.0.1:9"), "{shown}");
}

#[test]
fn the_judge_prints_its_url_and_key_redacted() {
    let builder = JudgeEvaluator::builder()
        .base_url(URL)
        .api_key("sk-key-333");
    assert_hidden(&format!("{builder:?}"));
    let judge = builder.build().unwrap();
    assert_hidden(&format!("{judge:?}"));
    // The real URL is still the one used.
    assert!(judge.url().contains("url-pass-111"));
}

#[test]
fn the_uptrain_api_client_prints_its_endpoint_redacted() {
    let api = UptrainApiEvaluator::builder()
        .server_url(URL)
        .api_key("sk-key-333")
        .build()
        .unwrap();
    assert_hidden(&format!("{api:?}"));
}

#[test]
fn the_handler_builder_prints_its_base_url_redacted() {
    let builder = UptrainHandler::builder()
        .base_url(URL)
        .api_key("sk-key-333");
    assert_hidden(&format!("{builder:?}"));
}
