//! Plugin discovery through the facade: this binary names only `llm_callbacks`. With the
//! `uptrain` feature the UpTrain plugin is registered and added by one call; without it, the
//! registry is empty. CI runs this file both ways.

use llm_callbacks::CallbackManager;
use llm_callbacks::registry::{self, PluginConfig};

#[cfg(feature = "uptrain")]
#[test]
fn the_uptrain_plugin_is_discovered_through_the_facade() {
    let names: Vec<&str> = registry::plugins().iter().map(|p| p.name).collect();
    assert_eq!(names, ["uptrain"]);

    let mut manager = CallbackManager::new();
    let added = manager.add_plugins(&PluginConfig::new()).unwrap();
    assert_eq!(added, ["uptrain"]);
    assert_eq!(manager.handlers(), ["uptrain"]);
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

#[cfg(not(feature = "uptrain"))]
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
