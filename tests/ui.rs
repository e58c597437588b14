//! Compile-time contract of the attributes: every misuse is a compile error that points at the
//! offending token and says how to fix it (snapshots in `ui/**/fail/*.stderr`).

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("ui/*/pass/*.rs");
    cases.compile_fail("ui/*/fail/*.rs");
}
