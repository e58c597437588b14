//! The audit's outputs: text for people, JSON (a versioned envelope) for scripts, SARIF 2.1.0
//! for code scanning, GitHub workflow annotations.

use std::fmt::Write as _;

use serde_json::{Value, json};

use super::rules::{RULES, Rule, Severity};
use super::{Audit, Finding, Route};

/// The JSON envelope's version; bumped on any incompatible change.
pub const JSON_VERSION: u32 = 1;

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// `file:line:column: severity[RULE] message`.
    Text,
    /// A versioned JSON envelope.
    Json,
    /// SARIF 2.1.0 (GitHub code scanning).
    Sarif,
    /// GitHub Actions workflow annotations.
    Github,
}

/// Human-readable findings, one per line, with help text (ANSI colour when `color`).
pub fn text(audit: &Audit, color: bool) -> String {
    let mut out = String::new();
    for f in &audit.findings {
        let severity = f.rule.severity.as_str();
        let severity = if color {
            let code = match f.rule.severity {
                Severity::Error => "31",
                Severity::Warning => "33",
                Severity::Note => "36",
            };
            format!("\x1b[1;{code}m{severity}\x1b[0m")
        } else {
            severity.to_owned()
        };
        let _ = writeln!(out, "{}:{}:{}: {severity}[{}] {}", f.file, f.line, f.column, f.rule.id, f.message);
        let _ = writeln!(out, "  = help: {}", f.rule.help);
    }
    let _ = writeln!(
        out,
        "{} finding(s) in {} Rust file(s) ({} error, {} warning, {} note)",
        audit.findings.len(),
        audit.files_scanned,
        count(audit, Severity::Error),
        count(audit, Severity::Warning),
        count(audit, Severity::Note),
    );
    out
}

fn count(audit: &Audit, severity: Severity) -> usize {
    audit.findings.iter().filter(|f| f.rule.severity == severity).count()
}

fn finding_json(f: &Finding) -> Value {
    json!({
        "rule": f.rule.id,
        "name": f.rule.name,
        "severity": f.rule.severity,
        "file": f.file,
        "line": f.line,
        "column": f.column,
        "message": f.message,
        "help": f.rule.help,
        "fingerprint": f.fingerprint,
    })
}

/// The findings as one JSON document.
pub fn json(audit: &Audit) -> String {
    let value = json!({
        "version": JSON_VERSION,
        "tool": {"name": "rampart", "version": env!("CARGO_PKG_VERSION")},
        "files_scanned": audit.files_scanned,
        "findings": audit.findings.iter().map(finding_json).collect::<Vec<_>>(),
    });
    serde_json::to_string_pretty(&value).unwrap_or_default() + "\n"
}

fn sarif_level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Note => "note",
    }
}

fn sarif_rule(rule: &Rule) -> Value {
    let security_severity = match rule.severity {
        Severity::Error => "8.0",
        Severity::Warning => "5.0",
        Severity::Note => "2.0",
    };
    json!({
        "id": rule.id,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": format!("{}. {}", rule.summary, rule.help)},
        "help": {"text": rule.help},
        "defaultConfiguration": {"level": sarif_level(rule.severity)},
        "properties": {"tags": ["security"], "precision": "high", "security-severity": security_severity},
    })
}

/// The findings as SARIF 2.1.0.
pub fn sarif(audit: &Audit) -> String {
    let results: Vec<Value> = audit
        .findings
        .iter()
        .map(|f| {
            let index = RULES.iter().position(|r| r.id == f.rule.id).unwrap_or(0);
            json!({
                "ruleId": f.rule.id,
                "ruleIndex": index,
                "level": sarif_level(f.rule.severity),
                "message": {"text": f.message},
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": {"uri": f.file, "uriBaseId": "%SRCROOT%"},
                        "region": {"startLine": f.line, "startColumn": f.column},
                    }
                }],
                "partialFingerprints": {"rampartFingerprint/v1": f.fingerprint},
            })
        })
        .collect();
    let value = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "rampart",
                "semanticVersion": env!("CARGO_PKG_VERSION"),
                "rules": RULES.iter().map(|r| sarif_rule(r)).collect::<Vec<_>>(),
            }},
            "results": results,
        }],
    });
    serde_json::to_string_pretty(&value).unwrap_or_default() + "\n"
}

/// A GitHub workflow command's message, escaped per the workflow command rules.
pub(crate) fn escape_data(text: &str) -> String {
    text.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// A GitHub workflow command's property value (`file=`, `title=`), escaped.
pub(crate) fn escape_prop(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// `::error file=...,line=...,col=...,title=...::message` (values escaped per the workflow
/// command rules).
pub fn github(audit: &Audit) -> String {
    let mut out = String::new();
    for f in &audit.findings {
        let command = match f.rule.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "notice",
        };
        let _ = writeln!(
            out,
            "::{command} file={},line={},col={},title={}::{}",
            escape_prop(&f.file),
            f.line,
            f.column,
            escape_prop(&format!("{} {}", f.rule.id, f.rule.name)),
            escape_data(&format!("{} ({})", f.message, f.rule.help)),
        );
    }
    out
}

/// Every rule, with its id, severity and help.
pub fn list_rules() -> String {
    let mut out = String::new();
    for rule in RULES {
        let _ = writeln!(out, "{} {:<8} {:<28} {}", rule.id, rule.severity.as_str(), rule.name, rule.summary);
    }
    out
}

/// The route inventory as a table.
pub fn inventory_text(routes: &[Route]) -> String {
    let mut out = String::new();
    for r in routes {
        let rate = r.rate.as_deref().unwrap_or("-");
        let _ = writeln!(
            out,
            "{:<7} {:<28} {:<48} rate {:<10} {}:{} {}",
            r.method, r.path, r.access, rate, r.file, r.line, r.handler
        );
    }
    out
}

/// The route inventory as JSON.
pub fn inventory_json(routes: &[Route]) -> String {
    let value = json!({"version": JSON_VERSION, "routes": routes});
    serde_json::to_string_pretty(&value).unwrap_or_default() + "\n"
}
