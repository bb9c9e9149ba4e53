//! Which checks the handler runs for which flow. Each flow starts with LangChain's checks
//! ([`Flow::checks`]); any check whose inputs the flow's rows carry may be added or swapped in,
//! named or parametric. The rows of a flow carry:
//!
//! | flow | row keys |
//! |---|---|
//! | RAG | `question`, `context`, `response` |
//! | multi-query | `question`, `variants` |
//! | contextual compression | `question`, `context`, `concise_context`, `reranked_context` |
//!
//! From the environment (or plugin configuration), `UPTRAIN_RAG_CHECKS`,
//! `UPTRAIN_MULTI_QUERY_CHECKS` and `UPTRAIN_CONTEXT_RERANKING_CHECKS` take comma-separated
//! wire names (`context_relevance,critique_language`) or a JSON array that may hold
//! parametric checks (`[{"check_name": "GuidelineAdherence", "guideline": "..."}]`).

use crate::check::Check;
use crate::env;
use crate::handler::{Flow, InvalidSetting};

/// The variables (and plugin configuration keys) holding each flow's checks.
pub(crate) const FLOW_CHECKS_ENV: [(Flow, &str); 3] = [
    (Flow::Rag, env::RAG_CHECKS),
    (Flow::MultiQuery, env::MULTI_QUERY_CHECKS),
    (Flow::ContextReranking, env::CONTEXT_RERANKING_CHECKS),
];

/// The checks run for each flow.
///
/// ```
/// use uptrain_plugin::{Check, CritiqueTone, Flow, FlowChecks};
///
/// let mut checks = FlowChecks::default();
/// assert_eq!(checks.get(Flow::Rag), Check::RAG);
/// checks
///     .set(Flow::Rag, [Check::ContextRelevance, Check::CritiqueLanguage])
///     .unwrap();
/// checks.add(Flow::Rag, CritiqueTone::new("a calm support agent")).unwrap();
/// assert_eq!(checks.get(Flow::Rag).len(), 3);
///
/// // Multi-query rows have no response to critique.
/// let err = checks.set(Flow::MultiQuery, [Check::CritiqueLanguage]).unwrap_err();
/// assert!(err.to_string().contains("response"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowChecks {
    rag: Vec<Check>,
    multi_query: Vec<Check>,
    context_reranking: Vec<Check>,
}

impl Default for FlowChecks {
    fn default() -> Self {
        Self {
            rag: Flow::Rag.checks().to_vec(),
            multi_query: Flow::MultiQuery.checks().to_vec(),
            context_reranking: Flow::ContextReranking.checks().to_vec(),
        }
    }
}

/// The keys a flow's rows carry.
fn row_keys(flow: Flow) -> &'static [&'static str] {
    match flow {
        Flow::Rag => &["question", "context", "response"],
        Flow::MultiQuery => &["question", "variants"],
        Flow::ContextReranking => &["question", "context", "concise_context", "reranked_context"],
    }
}

fn env_name(flow: Flow) -> &'static str {
    FLOW_CHECKS_ENV
        .iter()
        .find(|(f, _)| *f == flow)
        .map_or("flow checks", |(_, name)| name)
}

impl FlowChecks {
    /// The checks of `flow`.
    pub fn get(&self, flow: Flow) -> &[Check] {
        match flow {
            Flow::Rag => &self.rag,
            Flow::MultiQuery => &self.multi_query,
            Flow::ContextReranking => &self.context_reranking,
        }
    }

    fn slot(&mut self, flow: Flow) -> &mut Vec<Check> {
        match flow {
            Flow::Rag => &mut self.rag,
            Flow::MultiQuery => &mut self.multi_query,
            Flow::ContextReranking => &mut self.context_reranking,
        }
    }

    /// Replaces the checks of `flow`. Refused (and nothing changed) when the list is empty,
    /// when a check needs a key the flow's rows do not carry, or a parametric check's
    /// parameters are unusable.
    pub fn set(
        &mut self,
        flow: Flow,
        checks: impl IntoIterator<Item = impl Into<Check>>,
    ) -> Result<(), InvalidSetting> {
        let checks: Vec<Check> = checks.into_iter().map(Into::into).collect();
        if checks.is_empty() {
            return Err(invalid(flow, "(none)", "at least one check"));
        }
        for check in &checks {
            fits(flow, check)?;
        }
        let checks = crate::row::dedup_checks(&checks);
        together(flow, &checks)?;
        *self.slot(flow) = checks;
        Ok(())
    }

    /// Adds one check to `flow` (a repeat is ignored), with the same conditions as
    /// [`FlowChecks::set`].
    pub fn add(&mut self, flow: Flow, check: impl Into<Check>) -> Result<(), InvalidSetting> {
        let check = check.into();
        fits(flow, &check)?;
        if self.get(flow).contains(&check) {
            return Ok(());
        }
        let mut checks = self.get(flow).to_vec();
        checks.push(check);
        together(flow, &checks)?;
        *self.slot(flow) = checks;
        Ok(())
    }

    /// Reads each flow's checks from `get(<variable>)`, keeping the defaults of flows it has
    /// no value for.
    pub(crate) fn read(
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, InvalidSetting> {
        let mut out = Self::default();
        let mut any = false;
        for (flow, name) in FLOW_CHECKS_ENV {
            let Some(value) = get(name) else { continue };
            let checks = parse_list(&value).map_err(|why| invalid(flow, &value, &why))?;
            out.set(flow, checks)?;
            any = true;
        }
        Ok(any.then_some(out))
    }
}

/// Wire names separated by commas, or a JSON array of checks.
fn parse_list(value: &str) -> Result<Vec<Check>, String> {
    let value = value.trim();
    if value.starts_with('[') {
        return serde_json::from_str(value).map_err(|e| format!("a JSON array of checks ({e})"));
    }
    value
        .split(',')
        .filter(|name| !name.trim().is_empty())
        .map(|name| name.parse::<Check>().map_err(|e| e.to_string()))
        .collect()
}

fn fits(flow: Flow, check: &Check) -> Result<(), InvalidSetting> {
    if let Check::Parametric(p) = check
        && let Some(reason) = p.problem()
    {
        return Err(invalid(flow, &check.to_string(), &reason));
    }
    let have = row_keys(flow);
    let missing: Vec<&str> = check
        .required_keys()
        .into_iter()
        .filter(|k| !have.contains(k))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(invalid(
        flow,
        &check.to_string(),
        &format!(
            "a check whose inputs the {} rows carry ({}); it needs {}",
            flow.suffix(),
            have.join(", "),
            missing.join(", ")
        ),
    ))
}

/// Refuses checks that would write the same output key.
fn together(flow: Flow, checks: &[Check]) -> Result<(), InvalidSetting> {
    match crate::check::key_clash(checks) {
        None => Ok(()),
        Some(reason) => {
            let names: Vec<String> = checks.iter().map(ToString::to_string).collect();
            Err(invalid(flow, &names.join(", "), &reason))
        }
    }
}

fn invalid(flow: Flow, value: &str, expected: &str) -> InvalidSetting {
    InvalidSetting {
        name: env_name(flow),
        value: value.to_owned(),
        expected: expected.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::GuidelineAdherence;

    #[test]
    fn reads_names_and_json_per_flow() {
        let read = |pairs: &'static [(&'static str, &'static str)]| {
            FlowChecks::read(|k| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| (*v).to_owned())
            })
        };
        assert_eq!(read(&[]).unwrap(), None);
        let checks = read(&[("UPTRAIN_RAG_CHECKS", "context_relevance, prompt_injection")])
            .unwrap()
            .unwrap();
        assert_eq!(
            checks.get(Flow::Rag),
            [Check::ContextRelevance, Check::PromptInjection]
        );
        assert_eq!(checks.get(Flow::MultiQuery), Flow::MultiQuery.checks());
        let json = r#"[{"check_name": "GuidelineAdherence", "guideline": "Be brief.", "guideline_name": "brevity"}]"#;
        let pairs: &'static [(&str, &str)] = Box::leak(Box::new([("UPTRAIN_RAG_CHECKS", json)]));
        let checks = read(pairs).unwrap().unwrap();
        assert_eq!(
            checks.get(Flow::Rag),
            [Check::from(GuidelineAdherence::new("Be brief.", "brevity"))]
        );
        let err = read(&[("UPTRAIN_MULTI_QUERY_CHECKS", "critique_language")]).unwrap_err();
        assert_eq!(err.name, "UPTRAIN_MULTI_QUERY_CHECKS");
        assert!(err.expected.contains("needs response"), "{err}");
        let err = read(&[("UPTRAIN_RAG_CHECKS", "nope")]).unwrap_err();
        assert!(err.expected.contains("unknown check"), "{err}");
        assert!(read(&[("UPTRAIN_RAG_CHECKS", " , ")]).is_err());
    }

    #[test]
    fn unusable_parameters_are_refused() {
        let mut checks = FlowChecks::default();
        let err = checks
            .add(Flow::Rag, GuidelineAdherence::new(" ", "x"))
            .unwrap_err();
        assert!(err.expected.contains("empty"), "{err}");
        assert_eq!(checks, FlowChecks::default());
        checks
            .add(Flow::Rag, GuidelineAdherence::new("Be brief.", "style"))
            .unwrap();
        let err = checks
            .add(Flow::Rag, GuidelineAdherence::new("Be kind.", "style"))
            .unwrap_err();
        assert!(err.expected.contains("score_style_adherence"), "{err}");
        assert_eq!(checks.get(Flow::Rag).len(), 4);
    }
}
