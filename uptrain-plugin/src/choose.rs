//! The evaluator a configuration asks for, outside the handler (for grading datasets): the
//! same consent rule as the handler's (offline unless a judge or the UpTrain API is asked for
//! with a key), plus the options only batch grading needs (a judge cache, no progress line of
//! the evaluator's own).

use std::sync::Arc;

use crate::config::ProgressMode;
use crate::evaluator::{Evaluator, KeyType};
use crate::handler::{EvaluatorKind, UptrainConfig, UptrainError};
use crate::judge::{JudgeCache, JudgeEvaluator};
use crate::offline::OfflineEvaluator;
use crate::uptrain_api::UptrainApiEvaluator;

/// Which kind [`EvaluatorKind::Auto`] resolves to: a remote evaluator only with a key that was
/// given (an `OPENAI_API_KEY` merely present in the environment is not read unless the judge
/// is asked for, see [`UptrainConfig::from_plugin_config`]).
///
/// ```
/// use uptrain_plugin::{EvaluatorKind, UptrainConfig, resolve_kind};
///
/// assert_eq!(resolve_kind(&UptrainConfig::default()), EvaluatorKind::Offline);
/// let mut keyed = UptrainConfig::default();
/// keyed.api_key = Some("sk-1".into());
/// assert_eq!(resolve_kind(&keyed), EvaluatorKind::Judge);
/// keyed.evaluator = EvaluatorKind::Offline;
/// assert_eq!(resolve_kind(&keyed), EvaluatorKind::Offline);
/// ```
pub fn resolve_kind(config: &UptrainConfig) -> EvaluatorKind {
    match config.evaluator {
        EvaluatorKind::Auto => match (&config.api_key, config.key_type) {
            (Some(_), KeyType::OpenAi) => EvaluatorKind::Judge,
            (Some(_), KeyType::Uptrain) => EvaluatorKind::UptrainApi,
            (None, _) => EvaluatorKind::Offline,
        },
        kind => kind,
    }
}

/// Builds the evaluator `config` asks for (see [`resolve_kind`]), without a progress line of
/// its own; a judge answers from `cache` when one is given (other evaluators ignore it).
///
/// ```
/// use uptrain_plugin::{EvaluatorKind, UptrainConfig, evaluator_for};
///
/// let (evaluator, kind) = evaluator_for(&UptrainConfig::default(), None)?;
/// assert_eq!((evaluator.name(), kind), ("offline", EvaluatorKind::Offline));
/// # Ok::<(), uptrain_plugin::UptrainError>(())
/// ```
pub fn evaluator_for(
    config: &UptrainConfig,
    cache: Option<Arc<JudgeCache>>,
) -> Result<(Arc<dyn Evaluator>, EvaluatorKind), UptrainError> {
    let kind = resolve_kind(config);
    let evaluator: Arc<dyn Evaluator> = match kind {
        EvaluatorKind::Judge => {
            let mut builder = JudgeEvaluator::builder()
                .model(config.model.clone())
                .progress(ProgressMode::Never);
            if let Some(limits) = config.limits {
                builder = builder.limits(limits);
            }
            if let Some(retry) = config.retry {
                builder = builder.retry(retry);
            }
            if let Some(timeouts) = config.timeouts {
                builder = builder.timeouts(timeouts);
            }
            if let Some(key) = &config.api_key {
                builder = builder.api_key(key.clone());
            }
            if let Some(url) = &config.base_url {
                builder = builder.base_url(url.clone());
            }
            if let Some(cache) = cache {
                builder = builder.cache(cache);
            }
            if let Some(prices) = &config.prices {
                builder = builder.prices(prices.clone());
            }
            Arc::new(builder.build()?)
        }
        EvaluatorKind::UptrainApi => {
            let mut builder = UptrainApiEvaluator::builder().progress(ProgressMode::Never);
            if let Some(limits) = config.limits {
                builder = builder.limits(limits);
            }
            if let Some(retry) = config.retry {
                builder = builder.retry(retry);
            }
            if let Some(timeouts) = config.timeouts {
                builder = builder.timeouts(timeouts);
            }
            if let Some(key) = &config.api_key {
                builder = builder.api_key(key.clone());
            }
            if let Some(url) = &config.base_url {
                builder = builder.server_url(url.clone());
            }
            Arc::new(builder.build()?)
        }
        EvaluatorKind::Offline | EvaluatorKind::Auto => Arc::new(OfflineEvaluator::new()),
    };
    Ok((evaluator, kind))
}
