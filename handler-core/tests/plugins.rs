//! The plugin registry: registration through the public macro, configuration mistakes as
//! errors (unknown names with a suggestion, values that are not UTF-8), and constructor errors
//! that keep their source.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use std::error::Error as _;
use std::sync::Arc;

use handler_core::manager::SharedHandler;
use handler_core::registry::{self, PLUGINS_KEY, PluginConfig, PluginError};
use handler_core::{CallbackHandler, CallbackManager};

struct Audit;
impl CallbackHandler for Audit {
    fn name(&self) -> &str {
        "audit"
    }
}

fn build_audit(_: &PluginConfig) -> Result<Option<SharedHandler>, PluginError> {
    Ok(Some(SharedHandler::from_sync(Arc::new(Audit))))
}

handler_core::register_plugin! {
    name: "audit",
    description: "Keeps an audit trail",
    build: build_audit,
}

/// Fails when `STRICT_LIMIT` is not a number, with the parse error as its source.
fn build_strict(config: &PluginConfig) -> Result<Option<SharedHandler>, PluginError> {
    match config.get("STRICT_LIMIT") {
        None => Ok(None),
        Some(limit) => {
            limit.parse::<u32>().map_err(PluginError::invalid)?;
            Ok(Some(SharedHandler::from_sync(Arc::new(Audit))))
        }
    }
}

handler_core::register_plugin! {
    name: "strict",
    description: "Needs a numeric limit",
    build: build_strict,
}

#[test]
fn plugins_registered_with_the_macro_are_found() {
    let names: Vec<&str> = registry::plugins().iter().map(|p| p.name).collect();
    assert_eq!(names, ["audit", "strict"]);
    assert_eq!(
        registry::find("audit").map(|p| p.description),
        Some("Keeps an audit trail")
    );
    let mut manager = CallbackManager::new();
    assert_eq!(
        manager.add_plugins(&PluginConfig::new()).unwrap(),
        ["audit"]
    );
}

#[test]
fn an_unknown_plugin_name_is_an_error_with_a_suggestion() {
    let mut manager = CallbackManager::new();
    let typo = PluginConfig::new().set(PLUGINS_KEY, "audit, strcit");
    let err = manager.add_plugins(&typo).unwrap_err();
    match &err {
        PluginError::UnknownPlugin {
            name, suggestion, ..
        } => {
            assert_eq!(name, "strcit");
            assert_eq!(*suggestion, Some("strict"));
        }
        other => panic!("unexpected {other:?}"),
    }
    let message = err.to_string();
    assert!(message.contains("unknown plugin `strcit`"), "{message}");
    assert!(message.contains(PLUGINS_KEY), "{message}");
    assert!(message.contains("did you mean `strict`?"), "{message}");
    assert!(message.contains("registered: audit, strict"), "{message}");
    assert!(
        manager.is_empty(),
        "nothing is added when the selection is wrong"
    );

    let far = PluginConfig::new().set(PLUGINS_KEY, "langsmith");
    let message = manager.add_plugins(&far).unwrap_err().to_string();
    assert!(!message.contains("did you mean"), "{message}");

    for fine in ["none", "AUDIT", "audit,", " audit , none "] {
        let config = PluginConfig::new().set(PLUGINS_KEY, fine);
        assert!(manager.add_plugins(&config).is_ok(), "{fine}");
    }
}

#[test]
fn a_constructor_error_keeps_its_source() {
    let mut manager = CallbackManager::new();
    let bad = PluginConfig::new()
        .set(PLUGINS_KEY, "strict")
        .set("STRICT_LIMIT", "lots");
    let err = manager.add_plugins(&bad).unwrap_err();
    assert!(err.to_string().starts_with("plugin `strict`: "), "{err}");
    let source = err.source().expect("the constructor's error");
    assert!(
        source.downcast_ref::<std::num::ParseIntError>().is_some(),
        "{source:?}"
    );
}

/// The variable a child process of this test binary sees with a value that is not UTF-8.
const CHILD_MARKER: &str = "HANDLER_CORE_TEST_NOT_UNICODE_CHILD";

/// Setting a variable needs `unsafe` in this process; a child process gets it from `Command`.
#[cfg(unix)]
#[test]
fn an_environment_value_that_is_not_utf8_is_an_error_naming_it() {
    use std::os::unix::ffi::OsStrExt;
    if std::env::var_os(CHILD_MARKER).is_some() {
        // In the child: both the selection key and a plugin's own key are not UTF-8.
        let which = std::env::var(CHILD_MARKER).unwrap();
        let mut manager = CallbackManager::new();
        let err = manager.add_plugins(&PluginConfig::from_env()).unwrap_err();
        assert!(
            matches!(&err, PluginError::NotUnicode { variable } if *variable == which),
            "{err:?}"
        );
        assert!(err.to_string().contains(&which), "{err}");
        assert!(manager.is_empty());
        return;
    }
    let bad = std::ffi::OsStr::from_bytes(b"str\xffct");
    for (variable, extra) in [(PLUGINS_KEY, None), ("STRICT_LIMIT", Some("strict"))] {
        let exe = std::env::current_exe().unwrap();
        let mut child = std::process::Command::new(exe);
        child
            .args([
                "--exact",
                "an_environment_value_that_is_not_utf8_is_an_error_naming_it",
                "--test-threads=1",
            ])
            .env(CHILD_MARKER, variable)
            .env(variable, bad);
        if let Some(selected) = extra {
            child.env(PLUGINS_KEY, selected);
        }
        let output = child.output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && stdout.contains("1 passed"),
            "child for {variable}: {stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

#[test]
fn try_get_reports_what_get_would_hide() {
    let config = PluginConfig::new().set("A", "1").set("EMPTY", "  ");
    assert_eq!(config.try_get("A").unwrap().as_deref(), Some("1"));
    assert_eq!(config.try_get("EMPTY").unwrap(), None);
    assert!(config.enables("audit"));
}
