//! Reading datasets (JSON lines or CSV) and graded files: each row with the line it came
//! from, and each bad line as an error naming it, so the other rows can still be used.

use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use serde_json::Value;
use uptrain_plugin::Row;

use crate::args::Format;

/// A row and the line (from 1) it starts on.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Lined {
    pub(crate) line: usize,
    pub(crate) row: Row,
}

/// A line that is not a row.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct BadLine {
    pub(crate) line: usize,
    pub(crate) reason: String,
}

impl fmt::Display for BadLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

/// A file that cannot be read at all.
#[derive(Debug)]
pub(crate) struct FileError {
    pub(crate) path: PathBuf,
    pub(crate) reason: String,
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.reason)
    }
}

impl std::error::Error for FileError {}

/// Every row of a dataset, and every line that is not one.
pub(crate) fn read_dataset(
    path: &Path,
    format: Option<Format>,
) -> Result<(Vec<Lined>, Vec<BadLine>), FileError> {
    let format = format.unwrap_or_else(|| match path.extension().and_then(|e| e.to_str()) {
        Some(ext) if ext.eq_ignore_ascii_case("csv") => Format::Csv,
        _ => Format::Jsonl,
    });
    let file = File::open(path).map_err(|e| FileError {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    match format {
        Format::Jsonl => read_jsonl(BufReader::new(file), path),
        Format::Csv => Ok(read_csv(file)),
    }
}

/// JSON lines: one object per non-empty line.
pub(crate) fn read_jsonl(
    reader: impl BufRead,
    path: &Path,
) -> Result<(Vec<Lined>, Vec<BadLine>), FileError> {
    let mut rows = Vec::new();
    let mut bad = Vec::new();
    for (i, line) in reader.lines().enumerate() {
        let line_no = i + 1;
        let text = line.map_err(|e| FileError {
            path: path.to_path_buf(),
            reason: format!("line {line_no}: {e}"),
        })?;
        if text.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(&text) {
            Ok(Value::Object(row)) => rows.push(Lined { line: line_no, row }),
            Ok(other) => bad.push(BadLine {
                line: line_no,
                reason: format!("expected a JSON object, got {}", kind(&other)),
            }),
            Err(e) => bad.push(BadLine {
                line: line_no,
                reason: format!("not JSON: {e}"),
            }),
        }
    }
    Ok((rows, bad))
}

/// CSV with a header line: every column a text field; empty cells are left out (so a
/// missing value reads as missing).
fn read_csv(file: File) -> (Vec<Lined>, Vec<BadLine>) {
    let mut reader = csv::ReaderBuilder::new().flexible(false).from_reader(file);
    let mut rows = Vec::new();
    let mut bad = Vec::new();
    let headers = match reader.headers() {
        Ok(h) => h.clone(),
        Err(e) => {
            bad.push(BadLine {
                line: 1,
                reason: format!("cannot read the CSV header: {e}"),
            });
            return (rows, bad);
        }
    };
    let mut record = csv::StringRecord::new();
    loop {
        let line = usize::try_from(reader.position().line()).unwrap_or(usize::MAX);
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let line = record
                    .position()
                    .and_then(|p| usize::try_from(p.line()).ok())
                    .unwrap_or(line);
                let row: Row = headers
                    .iter()
                    .zip(record.iter())
                    .filter(|(_, v)| !v.is_empty())
                    .map(|(k, v)| (k.to_owned(), Value::String(v.to_owned())))
                    .collect();
                rows.push(Lined { line, row });
            }
            Err(e) => {
                let line = e
                    .position()
                    .and_then(|p| usize::try_from(p.line()).ok())
                    .unwrap_or(line);
                let reason = match e.kind() {
                    csv::ErrorKind::UnequalLengths {
                        expected_len, len, ..
                    } => format!("{len} fields where the header has {expected_len}"),
                    _ => e.to_string(),
                };
                bad.push(BadLine { line, reason });
                if !matches!(e.kind(), csv::ErrorKind::UnequalLengths { .. }) && e.is_io_error() {
                    break;
                }
            }
        }
    }
    (rows, bad)
}

/// A graded file (JSON lines written by `grade`): every row, or the first bad line.
pub(crate) fn read_graded(path: &Path) -> Result<Vec<Row>, FileError> {
    let file = File::open(path).map_err(|e| FileError {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let (rows, bad) = read_jsonl(BufReader::new(file), path)?;
    if let Some(first) = bad.first() {
        return Err(FileError {
            path: path.to_path_buf(),
            reason: first.to_string(),
        });
    }
    Ok(rows.into_iter().map(|l| l.row).collect())
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn jsonl_keeps_good_rows_and_names_bad_lines() {
        let text = "{\"question\": \"q\"}\n\nnot json\n[1]\n{\"question\": \"r\"}\n";
        let (rows, bad) = read_jsonl(text.as_bytes(), Path::new("x")).unwrap();
        assert_eq!(rows.iter().map(|r| r.line).collect::<Vec<_>>(), vec![1, 5]);
        assert_eq!(bad.iter().map(|b| b.line).collect::<Vec<_>>(), vec![3, 4]);
        assert!(
            bad[1]
                .to_string()
                .contains("expected a JSON object, got an array")
        );
    }

    #[test]
    fn csv_rows_know_their_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.csv");
        std::fs::write(
            &path,
            "question,context,response\nq1,c1,r1\nq2,c2\n\"multi\nline\",c3,r3\nq4,,r4\n",
        )
        .unwrap();
        let (rows, bad) = read_dataset(&path, None).unwrap();
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].line, 3);
        assert!(bad[0].reason.contains("2 fields where the header has 3"));
        assert_eq!(
            rows.iter().map(|r| r.line).collect::<Vec<_>>(),
            vec![2, 4, 6]
        );
        assert!(
            !rows[2].row.contains_key("context"),
            "empty cells are missing"
        );
    }
}
