//! Plugin discovery through the facade: this binary names only `llm_callbacks`. With the
//! `uptrain` feature the UpTrain plugin is registered and added by one call; with `otel` the
//! OpenTelemetry exporter is registered too, and added only when an endpoint is configured;
//! without features, the registry is empty. CI runs this file both ways.

use llm_callbacks::CallbackManager;
use llm_callbacks::registry::{self, PluginConfig};

#[cfg(feature = "uptrain")]
#[test]
fn the_uptrain_plugin_is_discovered_through_the_facade() {
    let names: Vec<&str> = registry::plugins().iter().map(|p| p.name).collect();
    let expected: &[&str] = if cfg!(feature = "otel") {
        &["otel", "uptrain"]
    } else {
        &["uptrain"]
    };
    assert_eq!(names, expected);

    let mut manager = CallbackManager::new();
    let added = manager.add_plugins(&PluginConfig::new()).unwrap();
    assert_eq!(added, ["uptrain"]);
    assert_eq!(manager.handler_names(), ["uptrain"]);
    let uptrain = manager
        .find_handler::<llm_callbacks::uptrain::UptrainHandler>()
        .expect("the plugin's handler is reachable by type");
    assert_eq!(uptrain.evaluator_name(), "offline", "no key configured");

    let mut manager = llm_callbacks::AsyncCallbackManager::new();
    assert_eq!(
        manager.add_plugins(&PluginConfig::new()).unwrap(),
        ["uptrain"]
    );
}

#[cfg(feature = "uptrain")]
#[test]
fn plugins_can_be_deselected_and_bad_configuration_is_an_error() {
    let mut manager = CallbackManager::new();
    let none = PluginConfig::new().set(registry::PLUGINS_KEY, "none");
    assert!(manager.add_plugins(&none).unwrap().is_empty());
    assert!(manager.is_empty());

    let bad = PluginConfig::new().set("UPTRAIN_KEY_TYPE", "anthropic");
    let err = manager.add_plugins(&bad).unwrap_err();
    let message = err.to_string();
    assert!(message.starts_with("plugin `uptrain`"), "{message}");
    assert!(message.contains("openai, uptrain"), "{message}");
}

#[cfg(feature = "otel")]
#[test]
fn the_otel_plugin_is_added_only_with_an_endpoint() {
    use llm_callbacks::otel::{OtelHandler, env};

    assert!(registry::find("otel").is_some());
    let only_otel = PluginConfig::new().set(registry::PLUGINS_KEY, "otel");
    let mut manager = CallbackManager::new();
    assert!(
        manager.add_plugins(&only_otel).unwrap().is_empty(),
        "no endpoint, no export"
    );

    // Nothing listens on port 9: the exporter is built, and its exports would fail quietly.
    let with_endpoint = only_otel.set(env::ENDPOINT, "http://127.0.0.1:9");
    assert_eq!(manager.add_plugins(&with_endpoint).unwrap(), ["otel"]);
    let otel = manager.find_handler::<OtelHandler>().unwrap();
    assert_eq!(
        otel.config().traces_endpoint.as_deref(),
        Some("http://127.0.0.1:9/v1/traces")
    );
    otel.shutdown(std::time::Duration::from_secs(1));
}

#[cfg(not(any(feature = "uptrain", feature = "otel")))]
#[test]
fn without_the_feature_no_plugin_is_registered() {
    assert!(registry::plugins().is_empty());
    let mut manager = CallbackManager::new();
    assert!(
        manager
            .add_plugins(&PluginConfig::new())
            .unwrap()
            .is_empty()
    );
}
