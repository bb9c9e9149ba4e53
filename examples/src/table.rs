//! The table of scores the examples end with.

use llm_callbacks::uptrain::{Check, EvaluatedRow};

const QUESTION_WIDTH: usize = 48;

/// Renders rows as a plain-text table: one line per check, with the project and question on
/// the first line of each row; a failed check shows `failed` (its error is in the row), an
/// offline score is marked `(estimate)` and explained under the table. Control characters in
/// questions are shown escaped.
///
/// ```
/// use llm_callbacks::uptrain::UptrainHandler;
/// # use llm_callbacks::{CallbackManager};
/// let uptrain = std::sync::Arc::new(UptrainHandler::builder().log_results(false).build()?);
/// let manager = CallbackManager::new().with_handler(uptrain.clone());
/// let pipeline = examples::Pipeline::shipped()?;
/// pipeline.answer(&manager, "Which planet has the Great Red Spot?", examples::Retrieval::Keyword)?;
/// let table = examples::score_table(&uptrain.flush());
/// assert!(table.contains("langchain_rag"));
/// assert!(table.contains("Context Relevance"));
/// assert!(table.contains("(estimate)"), "offline scores say so");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn score_table(rows: &[EvaluatedRow]) -> String {
    let project_width = rows
        .iter()
        .map(|r| r.project.chars().count())
        .chain(["project".len()])
        .max()
        .unwrap_or(0);
    let check_width = Check::ALL
        .iter()
        .map(|c| c.display_name().len())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    let header = format!(
        "{:<project_width$}  {:<QUESTION_WIDTH$}  {:<check_width$}  score",
        "project", "question", "check"
    );
    out.push_str(&header);
    out.push('\n');
    out.push_str(&"-".repeat(header.chars().count()));
    out.push('\n');
    for row in rows {
        let question = row
            .input
            .get("question")
            .and_then(|q| q.as_str())
            .unwrap_or("");
        let names: Vec<String> = if row.checks.is_empty() {
            row.scores.keys().cloned().collect()
        } else {
            row.checks.iter().map(|c| c.key.clone()).collect()
        };
        for (i, name) in names.iter().enumerate() {
            let label = name
                .parse::<Check>()
                .map_or(name.as_str(), |c| c.display_name());
            let score = match row.scores.get(name).copied().flatten() {
                Some(score) if row.estimate => format!("{score:.2} (estimate)"),
                Some(score) => format!("{score:.2}"),
                None => "failed".to_owned(),
            };
            let (project, question) = if i == 0 {
                (
                    row.project.as_str(),
                    shorten(&escape(question), QUESTION_WIDTH),
                )
            } else {
                ("", String::new())
            };
            out.push_str(&format!(
                "{project:<project_width$}  {question:<QUESTION_WIDTH$}  {label:<check_width$}  {score}\n"
            ));
        }
    }
    if rows.iter().any(|r| r.estimate) {
        out.push_str(
            "\n(estimate) = offline lexical estimate (word overlap), not an LLM judge's verdict\n",
        );
    }
    out
}

/// Control characters shown escaped, so a table row stays one line.
fn escape(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

fn shorten(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_owned();
    }
    let mut short: String = text.chars().take(width.saturating_sub(1)).collect();
    short.push('…');
    short
}
