//! The price table's matching, alias and override rules, and the costs of plain, cached,
//! cache-write and reasoning tokens, unknown models and usages that do not add up.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use handler_core::cost::{CostUnknown, ModelPrices, PriceTable, PriceTableError};
use handler_core::payload::{LlmResult, TokenUsage};

const SOURCE: &str = "https://example.test/prices";

/// A small table: `m` with a snapshot alias and every price, `plain` with input and output only.
fn table() -> PriceTable {
    PriceTable::from_json(
        r#"{"version": "t1", "models": {
            "m": {"input": 2, "cached_input": 0.5, "cache_write": 2.5, "output": 8,
                  "reasoning": 10, "aliases": ["m-2025-01-01"],
                  "date": "2025-01-01", "source": "https://example.test/prices"},
            "plain": {"input": 1, "output": 4, "date": "2024-06-01", "source": "https://example.test/prices"}
        }}"#,
    )
    .unwrap()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

#[test]
fn names_match_exactly_or_by_a_declared_alias_and_nothing_else() {
    let table = table();
    for (asked, found) in [
        ("m", Some("m")),
        ("m-2025-01-01", Some("m")),
        ("plain", Some("plain")),
        ("M", None),
        ("m-2025-02-01", None), // an undeclared snapshot
        ("m ", None),
        ("openai/m", None),
        ("pla", None),
        ("", None),
    ] {
        assert_eq!(table.lookup(asked).map(|(n, _)| n), found, "{asked:?}");
    }
}

#[test]
fn the_shipped_table_knows_snapshots_it_declares_and_not_differently_priced_ones() {
    let shipped = PriceTable::shipped();
    for (asked, found) in [
        ("gpt-4o-mini", Some("gpt-4o-mini")),
        ("gpt-4o-mini-2024-07-18", Some("gpt-4o-mini")),
        ("gpt-4o-2024-08-06", Some("gpt-4o")),
        ("gpt-4o-2024-05-13", None), // priced higher than gpt-4o: not an alias
        ("gpt-3.5-turbo", Some("gpt-3.5-turbo")),
        ("llama3.2", None),
    ] {
        assert_eq!(shipped.lookup(asked).map(|(n, _)| n), found, "{asked:?}");
    }
}

#[test]
fn each_kind_of_token_is_priced_at_its_own_price() {
    let table = table();
    // (what, usage, input, cached, cache write, output, reasoning) in USD.
    let cases = [
        (
            "plain",
            TokenUsage::new(1_000_000, 1_000_000),
            2.0,
            0.0,
            0.0,
            8.0,
            0.0,
        ),
        (
            "cached",
            TokenUsage::new(1_000_000, 0).with_cache_read_tokens(600_000),
            0.8,
            0.3,
            0.0,
            0.0,
            0.0,
        ),
        (
            "cache write",
            TokenUsage::new(1_000_000, 0)
                .with_cache_read_tokens(200_000)
                .with_cache_write_tokens(400_000),
            0.8,
            0.1,
            1.0,
            0.0,
            0.0,
        ),
        (
            "reasoning",
            TokenUsage::new(0, 1_000_000).with_reasoning_tokens(250_000),
            0.0,
            0.0,
            0.0,
            6.0,
            2.5,
        ),
        ("nothing", TokenUsage::new(0, 0), 0.0, 0.0, 0.0, 0.0, 0.0),
    ];
    for (what, usage, input, cached, write, output, reasoning) in cases {
        let cost = table.cost("m", &usage).unwrap();
        let b = cost.breakdown;
        assert!(close(b.input, input), "{what}: input {}", b.input);
        assert!(
            close(b.cached_input, cached),
            "{what}: cached {}",
            b.cached_input
        );
        assert!(
            close(b.cache_write, write),
            "{what}: write {}",
            b.cache_write
        );
        assert!(close(b.output, output), "{what}: output {}", b.output);
        assert!(
            close(b.reasoning, reasoning),
            "{what}: reasoning {}",
            b.reasoning
        );
        let sum = input + cached + write + output + reasoning;
        assert!(close(cost.total, sum), "{what}: total {}", cost.total);
    }
}

#[test]
fn missing_cache_and_reasoning_prices_fall_back_to_input_and_output() {
    let usage = TokenUsage::new(1_000_000, 1_000_000)
        .with_cache_read_tokens(500_000)
        .with_cache_write_tokens(250_000)
        .with_reasoning_tokens(500_000);
    let cost = table().cost("plain", &usage).unwrap();
    let b = cost.breakdown;
    assert!(close(b.input, 0.25) && close(b.cached_input, 0.5) && close(b.cache_write, 0.25));
    assert!(close(b.output, 2.0) && close(b.reasoning, 2.0));
    assert!(close(cost.total, 1.0 + 4.0), "the same as without details");
}

#[test]
fn a_cost_says_where_its_prices_came_from() {
    let cost = table()
        .cost("m-2025-01-01", &TokenUsage::new(10, 10))
        .unwrap();
    let p = &cost.provenance;
    assert_eq!(
        (p.model.as_str(), p.entry.as_str(), p.date.as_str()),
        ("m-2025-01-01", "m", "2025-01-01")
    );
    assert_eq!(
        (p.source.as_str(), p.table_version.as_str()),
        (SOURCE, "t1")
    );
    assert_eq!(cost.to_string(), "$0.000100 (m, prices of 2025-01-01)");
}

#[test]
fn no_cost_is_ever_a_silent_zero() {
    let table = table();
    let usage = TokenUsage::new(10, 10);
    assert_eq!(
        table.cost("gpt-unknown", &usage),
        Err(CostUnknown::UnknownModel {
            model: "gpt-unknown".into(),
            table_version: "t1".into()
        })
    );
    let result = LlmResult::from_text("x");
    assert_eq!(table.cost_of(&result), Err(CostUnknown::NoModel));
    let result = result.with_model_name("m");
    assert_eq!(table.cost_of(&result), Err(CostUnknown::NoUsage));
    for usage in [
        TokenUsage::new(10, 0).with_cache_read_tokens(11),
        TokenUsage::new(10, 0)
            .with_cache_read_tokens(6)
            .with_cache_write_tokens(5),
        TokenUsage::new(0, 10).with_reasoning_tokens(11),
    ] {
        let error = table.cost("m", &usage).unwrap_err();
        assert!(
            matches!(error, CostUnknown::InconsistentUsage(_)),
            "{usage:?}: {error}"
        );
    }
}

#[test]
fn overrides_replace_entries_keep_their_aliases_and_add_new_ones() {
    let overrides = PriceTable::from_json(
        r#"{"version": "ours", "models": {
            "m": {"input": 1, "output": 1, "date": "2026-01-01", "source": "our contract"},
            "m-2025-01-01-special": {"input": 9, "output": 9, "date": "2026-01-01", "source": "ours"},
            "local": {"input": 0, "output": 0, "aliases": ["local-q4"], "date": "2026-01-01", "source": "our GPUs"}
        }}"#,
    )
    .unwrap();
    let table = table().merge(overrides).unwrap();
    assert_eq!(table.version(), "t1+ours");
    let (name, m) = table.lookup("m-2025-01-01").unwrap();
    assert_eq!(
        (name, m.source.as_str()),
        ("m", "our contract"),
        "the alias now prices as ours"
    );
    assert_eq!(
        m.cached_input, None,
        "an override replaces the whole entry, not single prices"
    );
    assert_eq!(table.lookup("local-q4").map(|(n, _)| n), Some("local"));
    assert_eq!(
        table.lookup("plain").map(|(_, p)| p.source.as_str()),
        Some(SOURCE)
    );
    let cost = table.cost("local", &TokenUsage::new(5, 5)).unwrap();
    assert_eq!(cost.total, 0.0, "a free model is a known zero");
    assert_eq!(cost.provenance.table_version, "t1+ours");
}

#[test]
fn an_override_can_price_a_snapshot_apart_or_move_an_alias() {
    // A model named like an alias: its own entry wins over the alias.
    let table = table()
        .with_model(
            "m-2025-01-01",
            ModelPrices::new(3.0, 3.0, "2026-01-01", "ours"),
        )
        .unwrap();
    assert_eq!(
        table.lookup("m-2025-01-01").map(|(n, _)| n),
        Some("m-2025-01-01")
    );
    assert_eq!(table.lookup("m").map(|(_, p)| p.aliases.len()), Some(0));
    // An alias declared again moves to the entry that declares it last.
    let table = self::table()
        .with_model(
            "n",
            ModelPrices::new(1.0, 1.0, "2026-01-01", "ours").with_alias("m-2025-01-01"),
        )
        .unwrap();
    assert_eq!(table.lookup("m-2025-01-01").map(|(n, _)| n), Some("n"));
    // An alias that is another model's name would never match: refused.
    let error = self::table()
        .with_model(
            "n",
            ModelPrices::new(1.0, 1.0, "2026-01-01", "ours").with_alias("plain"),
        )
        .unwrap_err();
    assert!(error.to_string().contains("\"plain\""), "{error}");
}

#[test]
fn overrides_from_a_file_merge_over_the_shipped_table() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("prices.json");
    std::fs::write(
        &path,
        r#"{"version": "2026-12-01-ours", "models": {
            "gpt-4o-mini": {"input": 0.1, "cached_input": 0.01, "output": 0.5,
                            "date": "2026-12-01", "source": "our contract"}}}"#,
    )
    .unwrap();
    let table = PriceTable::shipped_with_overrides(&path).unwrap();
    let cost = table
        .cost("gpt-4o-mini-2024-07-18", &TokenUsage::new(1_000_000, 0))
        .unwrap();
    assert!(close(cost.total, 0.1));
    assert_eq!(cost.provenance.source, "our contract");
    assert_eq!(
        cost.provenance.table_version,
        format!("{}+2026-12-01-ours", PriceTable::shipped().version())
    );
    assert!(
        table.lookup("gpt-4o").is_some(),
        "the rest of the shipped table stays"
    );

    let missing = PriceTable::shipped_with_overrides(dir.path().join("nope.json")).unwrap_err();
    assert!(matches!(missing, PriceTableError::Read { .. }));
    assert!(missing.to_string().contains("nope.json"), "{missing}");
}

#[test]
fn a_wrong_table_is_refused_naming_what_is_wrong() {
    let entry = |fields: &str| {
        format!(
            r#"{{"version": "v", "models": {{"x": {{{fields}}}, "y": {{"input": 1, "output": 1, "date": "2026-01-01", "source": "s"}}}}}}"#
        )
    };
    for (fields, expected) in [
        (
            r#""input": -1, "output": 1, "date": "2026-01-01", "source": "s""#,
            "input price -1",
        ),
        (
            r#""input": 1, "output": 1, "cached_input": -0.5, "date": "2026-01-01", "source": "s""#,
            "cached_input price",
        ),
        (
            r#""input": 1, "output": 1, "date": "last week", "source": "s""#,
            "not YYYY-MM-DD",
        ),
        (
            r#""input": 1, "output": 1, "date": "2026-01-01", "source": " ""#,
            "no source",
        ),
        (
            r#""input": 1, "output": 1, "date": "2026-01-01", "source": "s", "aliases": ["y"]"#,
            "alias \"y\" is the name",
        ),
        (
            r#""input": 1, "output": 1, "date": "2026-01-01", "source": "s", "ouptut": 2"#,
            "unknown field `ouptut`",
        ),
        (
            r#""input": 1, "date": "2026-01-01", "source": "s""#,
            "missing field `output`",
        ),
    ] {
        let error = PriceTable::from_json(&entry(fields))
            .unwrap_err()
            .to_string();
        assert!(error.contains(expected), "{fields}: {error}");
    }
    let twice = r#"{"version": "v", "models": {
        "a": {"input": 1, "output": 1, "aliases": ["s1"], "date": "2026-01-01", "source": "s"},
        "b": {"input": 1, "output": 1, "aliases": ["s1"], "date": "2026-01-01", "source": "s"}}}"#;
    let error = PriceTable::from_json(twice).unwrap_err().to_string();
    assert!(error.contains("declared by \"a\" too"), "{error}");
    let no_version = r#"{"version": " ", "models": {}}"#;
    assert!(matches!(
        PriceTable::from_json(no_version),
        Err(PriceTableError::NoVersion)
    ));
}
