//! The review's outputs: text for the terminal, markdown for a pull-request comment or a job
//! summary, JSON for scripts, SARIF 2.1.0 for code scanning (located at the head revision), and
//! GitHub workflow annotations.

use std::fmt::Write as _;

use serde_json::{Value, json};

use super::{Change, Effect, LOCKFILE, Origin, RULES, Review};
use crate::audit::report::{escape_data, escape_prop};

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One line per change.
    Text,
    /// A pull-request comment: the endpoints whose contract changed, before → after, then every change.
    Markdown,
    /// A versioned JSON envelope.
    Json,
    /// SARIF 2.1.0.
    Sarif,
    /// GitHub Actions workflow annotations.
    Github,
}

/// The JSON envelope's version.
pub const JSON_VERSION: u32 = 1;

fn verdict(change: &Change) -> &'static str {
    match (change.effect, &change.accepted) {
        (Effect::Loosens, None) => "loosens",
        (Effect::Loosens, Some(_)) => "loosens (accepted)",
        (Effect::Info, _) => "info",
    }
}

fn summary(review: &Review) -> String {
    let failing = review.changes.iter().filter(|c| c.fails()).count();
    let accepted = review.changes.iter().filter(|c| c.accepted.is_some()).count();
    format!(
        "{} change(s) between {} and {}: {failing} loosening not accepted, {accepted} accepted; {}",
        review.changes.len(),
        review.base,
        review.head,
        origin(review)
    )
}

/// Where the contracts were read, in words.
fn origin(review: &Review) -> String {
    match (review.origin, &review.origin_note) {
        (Origin::Lockfile, _) => format!("contracts read from {LOCKFILE} (what the compiled routers mount)"),
        (Origin::Sources, note) => format!(
            "contracts read from the sources, not the compiled router ({}): code a reader cannot see is not compared",
            note.as_deref().unwrap_or("no lockfile")
        ),
    }
}

/// `file:line: verdict[RULE] message`, then a summary line.
pub fn text(review: &Review) -> String {
    let mut out = String::new();
    for change in &review.changes {
        let _ = writeln!(
            out,
            "{}:{}: {}[{}] {}",
            change.file,
            change.line,
            verdict(change),
            change.rule.id,
            change.message
        );
        if let (Some(before), Some(after)) = (&change.before, &change.after) {
            let _ = writeln!(out, "  = before: {before}\n  = after:  {after}");
        }
        if let Some(reason) = &change.accepted {
            let _ = writeln!(out, "  = accepted: {reason}");
        }
    }
    let _ = writeln!(out, "{}", summary(review));
    out
}

fn cell(text: Option<&String>) -> String {
    text.map_or_else(|| "—".to_owned(), |t| format!("`{}`", t.replace('|', "\\|").replace('`', "'")))
}

/// A pull-request comment.
pub fn markdown(review: &Review) -> String {
    let mut out = String::from("## Rampart security review\n\n");
    let _ = writeln!(out, "{}.\n", summary(review));
    if !review.contracts.is_empty() {
        out.push_str("| endpoint | before | after |\n|---|---|---|\n");
        for (endpoint, before, after) in &review.contracts {
            let _ = writeln!(out, "| `{endpoint}` | {} | {} |", cell(before.as_ref()), cell(after.as_ref()));
        }
        out.push('\n');
    }
    if !review.changes.is_empty() {
        out.push_str("| | rule | change | where |\n|---|---|---|---|\n");
        for change in &review.changes {
            let mark = match (change.effect, &change.accepted) {
                (Effect::Loosens, None) => "❌",
                (Effect::Loosens, Some(_)) => "⚠️",
                (Effect::Info, _) => "ℹ️",
            };
            let mut message = change.message.replace('|', "\\|");
            if let Some(reason) = &change.accepted {
                let _ = write!(message, " — accepted: {}", reason.replace('|', "\\|"));
            }
            let _ = writeln!(out, "| {mark} | {} | {message} | `{}:{}` |", change.rule.id, change.file, change.line);
        }
    }
    out
}

/// The versioned JSON envelope.
pub fn json(review: &Review) -> String {
    let value = json!({
        "version": JSON_VERSION,
        "base": review.base,
        "head": review.head,
        "fails": review.fails(),
        "source": match review.origin { Origin::Lockfile => "lockfile", Origin::Sources => "sources" },
        "source_note": review.origin_note,
        "changes": review.changes,
        "contracts": review.contracts.iter().map(|(endpoint, before, after)| json!({"endpoint": endpoint, "before": before, "after": after})).collect::<Vec<_>>(),
    });
    serde_json::to_string_pretty(&value).unwrap_or_default() + "\n"
}

/// SARIF 2.1.0, located at the head revision.
pub fn sarif(review: &Review) -> String {
    let results: Vec<Value> = review
        .changes
        .iter()
        .map(|change| {
            let index = RULES.iter().position(|r| r.id == change.rule.id).unwrap_or(0);
            let mut result = json!({
                "ruleId": change.rule.id,
                "ruleIndex": index,
                "level": if change.fails() { "error" } else { "note" },
                "message": {"text": change.message},
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": {"uri": change.file, "uriBaseId": "%SRCROOT%"},
                        "region": {"startLine": change.line},
                    }
                }],
            });
            if let Some(reason) = &change.accepted {
                result["suppressions"] = json!([{"kind": "inSource", "justification": reason}]);
            }
            result
        })
        .collect();
    let rules: Vec<Value> =
        RULES.iter().map(|r| json!({"id": r.id, "name": r.name, "shortDescription": {"text": r.summary}})).collect();
    let value = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "rampart-review",
                "semanticVersion": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "results": results,
            "properties": {"contractsFrom": origin(review)},
        }],
    });
    serde_json::to_string_pretty(&value).unwrap_or_default() + "\n"
}

/// `::error file=...,line=...,title=...::message` per change.
pub fn github(review: &Review) -> String {
    let mut out = String::new();
    if review.origin == Origin::Sources {
        let _ = writeln!(out, "::warning title=rampart review::{}", escape_data(&origin(review)));
    }
    for change in &review.changes {
        let command = if change.fails() { "error" } else { "notice" };
        let mut message = change.message.clone();
        if let Some(reason) = &change.accepted {
            let _ = write!(message, " (accepted: {reason})");
        }
        let _ = writeln!(
            out,
            "::{command} file={},line={},title={}::{}",
            escape_prop(&change.file),
            change.line,
            escape_prop(&format!("{} {}", change.rule.id, change.rule.name)),
            escape_data(&message)
        );
    }
    out
}
