//! The evaluator the command line asks for: the plugin's configuration (environment first,
//! then the flags on top), so the consent rule is the plugin's own: offline unless a judge or
//! the UpTrain API is asked for.

use std::sync::Arc;

use handler_core::cost::PriceTable;
use handler_core::registry::PluginConfig;
use uptrain_plugin::{Evaluator, EvaluatorKind, JudgeCache, UptrainConfig, env, evaluator_for};

use crate::args::{EvaluatorArg, EvaluatorArgs};

/// The evaluator, its kind, and the judge cache (when asked for).
pub(crate) struct Chosen {
    pub(crate) evaluator: Arc<dyn Evaluator>,
    pub(crate) kind: EvaluatorKind,
    pub(crate) cache: Option<Arc<JudgeCache>>,
}

/// Builds the evaluator `args` ask for.
pub(crate) fn choose(args: &EvaluatorArgs) -> Result<Chosen, String> {
    let mut source = PluginConfig::from_env();
    if let Some(kind) = match args.evaluator {
        EvaluatorArg::Auto => None,
        EvaluatorArg::Offline => Some("offline"),
        EvaluatorArg::Judge => Some("judge"),
        EvaluatorArg::UptrainApi => Some("uptrain_api"),
    } {
        source = source.set(env::EVALUATOR, kind);
        if args.evaluator == EvaluatorArg::UptrainApi {
            source = source.set(env::KEY_TYPE, "uptrain");
        }
    }
    if let Some(model) = &args.model {
        source = source.set(env::MODEL, model.clone());
    }
    for (name, value) in [
        (
            env::MAX_IN_FLIGHT,
            args.max_in_flight.map(|n| n.to_string()),
        ),
        (
            env::REQUESTS_PER_MINUTE,
            args.requests_per_minute.map(|n| n.to_string()),
        ),
        (
            env::TOKENS_PER_MINUTE,
            args.tokens_per_minute.map(|n| n.to_string()),
        ),
    ] {
        if let Some(value) = value {
            source = source.set(name, value);
        }
    }
    let mut config = UptrainConfig::from_plugin_config(&source).map_err(|e| e.to_string())?;
    if let Some(url) = &args.base_url {
        config.base_url = Some(url.clone());
    }
    if let Some(path) = &args.prices {
        let table = PriceTable::shipped_with_overrides(path)
            .map_err(|e| format!("--prices {}: {e}", path.display()))?;
        config.prices = Some(table);
    }
    let cache = match &args.cache {
        Some(path) => Some(Arc::new(
            JudgeCache::open(path, args.cache_strict).map_err(|e| e.to_string())?,
        )),
        None => None,
    };
    let (evaluator, kind) = evaluator_for(&config, cache.clone()).map_err(|e| e.to_string())?;
    for (given, flag) in [
        (cache.is_some(), "--cache"),
        (args.prices.is_some(), "--prices"),
    ] {
        if given && kind != EvaluatorKind::Judge {
            eprintln!(
                "note: {flag} applies to the judge only; the {} evaluator does not use it",
                evaluator.name()
            );
        }
    }
    Ok(Chosen {
        evaluator,
        kind,
        cache,
    })
}
