//! The judge cache: a first run asks the judge and records every answer; a second run answers
//! from the file without one judge call; a changed row misses (and is graded, or in strict mode
//! fails and is listed). Also the one-call dataset grading (`grade`) through a cached judge.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns may unwrap too

mod common;

use std::sync::Arc;

use common::{judge_builder, judge_reply};
use uptrain_plugin::{Check, CheckError, GradeOptions, GradedRow, JudgeCache, grade};
use wiremock::{Mock, MockServer, Request};

async fn judge_server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::method("POST"))
        .respond_with(|r: &Request| judge_reply(r, "A"))
        .mount(&server)
        .await;
    server
}

async fn calls(server: &MockServer) -> usize {
    server.received_requests().await.unwrap().len()
}

async fn run(
    server: &MockServer,
    cache: &Arc<JudgeCache>,
    rows: Vec<uptrain_plugin::Row>,
) -> uptrain_plugin::Graded {
    let judge = judge_builder(server).cache(cache.clone()).build().unwrap();
    grade(
        &judge,
        rows,
        &[Check::ContextRelevance, Check::FactualAccuracy],
        &GradeOptions::default(),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn hits_skip_the_judge_misses_are_graded_and_strict_misses_are_listed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("judge-cache.jsonl");
    let server = judge_server().await;
    // Rows that share no request: each context differs too.
    let rows = || {
        ["a", "b"]
            .map(|tag| {
                let mut row = common::full_row(tag);
                row.insert("context".into(), format!("Context {tag}: Paris.").into());
                row
            })
            .to_vec()
    };

    // First run: every request misses, is sent, and is recorded (1 + 2 calls per row).
    let cache = Arc::new(JudgeCache::open(&path, false).unwrap());
    let first = run(&server, &cache, rows()).await;
    assert_eq!(calls(&server).await, 6);
    assert_eq!((cache.hits(), cache.miss_count()), (0, 6));
    let recorded = std::fs::read_to_string(&path).unwrap();
    assert_eq!(recorded.lines().count(), 6);
    assert_eq!(cache.stored(), 6);

    // Second run, from the file: the same scores, no judge call.
    let cache = Arc::new(JudgeCache::open(&path, false).unwrap());
    let second = run(&server, &cache, rows()).await;
    assert_eq!(calls(&server).await, 6, "a hit must not call the judge");
    assert_eq!(cache.hits(), 6);
    let checks = |g: &uptrain_plugin::Graded| -> Vec<_> {
        g.rows.iter().map(|r| r.checks().to_vec()).collect()
    };
    assert_eq!(checks(&first), checks(&second));
    // Answers from the cache cost no request and no token.
    assert_eq!(first.usage.requests, 6);
    assert_eq!(second.usage.requests, 0);
    assert_eq!(
        second.usage.tokens.map(|t| t.total_tokens),
        Some(0),
        "{}",
        second.usage
    );

    // A changed row misses: graded and appended.
    let mut changed = rows();
    changed[1].insert("response".into(), "Another answer entirely.".into());
    let cache = Arc::new(JudgeCache::open(&path, false).unwrap());
    run(&server, &cache, changed.clone()).await;
    // Only the requests that carry the response change: the context-relevance ones hit.
    let misses = cache.miss_count();
    assert!(misses >= 1 && cache.hits() >= 2, "{cache:?}");
    assert_eq!(calls(&server).await as u64, 6 + misses);
    assert_eq!(cache.hits() + misses, 6);
    let before_strict = calls(&server).await;

    // Strict: a miss is not sent, its checks fail with the key, and it is listed.
    let mut new = rows();
    new[0].insert("question".into(), "A question never asked?".into());
    let cache = Arc::new(JudgeCache::open(&path, true).unwrap());
    let strict = run(&server, &cache, new).await;
    assert_eq!(
        calls(&server).await,
        before_strict,
        "strict mode never calls the judge"
    );
    let GradedRow::Scored(row) = &strict.rows[0] else {
        panic!("row 0 was not graded")
    };
    assert!(matches!(
        row.get(Check::ContextRelevance).unwrap().error,
        Some(CheckError::CacheMiss { .. })
    ));
    assert!(strict.rows[1].checks().iter().all(|c| c.is_ok()));
    let misses = cache.misses();
    // Row 0's context relevance and fact extraction (the fact judging never starts).
    assert_eq!(misses.len(), 2, "{misses:?}");
    assert!(misses.iter().all(|m| m.key.len() == 64));
}
