//! A real generator consumes the notes document: `openapi-typescript` turns it into TypeScript
//! types, and `tsc --strict` type-checks a client written against them — the bodies the service
//! accepts compile, and a body it refuses (an unknown share relation, a missing title) does not.
//! A document generators cannot read fails here.
//!
//! The npm tools live in `target/tools/npm` (`./scripts/test` installs them there).
#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

use std::path::{Path, PathBuf};
use std::process::Command;

fn tool(name: &str) -> PathBuf {
    let tools = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/tools/npm/node_modules/.bin");
    let path = tools.join(name);
    assert!(
        path.exists(),
        "{} is missing: ./scripts/test installs openapi-typescript and typescript there",
        path.display()
    );
    path
}

const CLIENT: &str = r#"import type { components, paths } from "./schema";

type Note = components["schemas"]["Note"];
type CreateNote = paths["/notes"]["post"]["requestBody"]["content"]["application/json"];
type UpdateNote = paths["/notes/{id}"]["patch"]["requestBody"]["content"]["application/json"];
type Share = paths["/notes/{id}/shares"]["post"]["requestBody"]["content"]["application/json"];
type NotePage = paths["/notes"]["get"]["responses"]["200"]["content"]["application/json"];
type ListQuery = NonNullable<paths["/notes"]["get"]["parameters"]["query"]>;

export const create: CreateNote = { title: "plans", body: "secret", tags: ["work"] };
export const update: UpdateNote = { title: "new plans" };
export const share: Share = { subject: "bob", relation: "editor" };
export const query: ListQuery = { limit: 10, shared: true };
export function titles(page: NotePage): string[] {
  return page.items.map((note: Note) => note.title);
}
export function path(id: paths["/notes/{id}"]["get"]["parameters"]["path"]["id"]): string {
  return `/notes/${id.toFixed(0)}`;
}

// @ts-expect-error: `owner` is not a relation a share grants
export const badShare: Share = { subject: "bob", relation: "owner" };
// @ts-expect-error: a note needs its title
export const untitled: CreateNote = { body: "no title" };
"#;

#[test]
fn a_typescript_client_generated_from_the_document_type_checks() {
    let work = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("typescript-client");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap();
    let document = work.join("openapi.json");
    std::fs::write(&document, rampart::openapi::to_json(&notes::openapi())).unwrap();

    let generated = Command::new(tool("openapi-typescript"))
        .arg(&document)
        .arg("--output")
        .arg(work.join("schema.d.ts"))
        .output()
        .unwrap();
    assert!(generated.status.success(), "openapi-typescript: {}", String::from_utf8_lossy(&generated.stderr));

    std::fs::write(work.join("client.ts"), CLIENT).unwrap();
    let checked = Command::new(tool("tsc"))
        .args(["--noEmit", "--strict", "--target", "es2020", "--module", "es2020", "--moduleResolution", "bundler"])
        .arg(work.join("client.ts"))
        .output()
        .unwrap();
    assert!(
        checked.status.success(),
        "tsc found errors in a client of the generated types:\n{}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
}
