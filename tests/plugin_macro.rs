//! A plugin crate that depends only on the facade registers itself with
//! `llm_callbacks::register_plugin!`: no `inventory` dependency, no hidden path.

use std::sync::Arc;

use llm_callbacks::manager::SharedHandler;
use llm_callbacks::registry::{self, PluginConfig, PluginError};
use llm_callbacks::{CallbackHandler, CallbackManager};

struct Echo;
impl CallbackHandler for Echo {
    fn name(&self) -> &str {
        "echo"
    }
}

fn build(_: &PluginConfig) -> Result<Option<SharedHandler>, PluginError> {
    Ok(Some(SharedHandler::from_sync(Arc::new(Echo))))
}

llm_callbacks::register_plugin! {
    name: "echo",
    description: "Echoes nothing",
    build: build,
}

#[test]
fn a_plugin_registered_through_the_facade_is_found_and_added() -> Result<(), PluginError> {
    assert_eq!(
        registry::find("echo").map(|p| p.description),
        Some("Echoes nothing")
    );
    let mut manager = CallbackManager::new();
    let only_echo = PluginConfig::new().set(registry::PLUGINS_KEY, "echo");
    assert_eq!(manager.add_plugins(&only_echo)?, ["echo"]);
    assert_eq!(manager.handler_names(), ["echo"]);
    Ok(())
}
