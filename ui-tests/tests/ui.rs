//! Compile-fail cases (each `.stderr` is the message a user sees) and compile-pass cases
//! for VIPE's macros. Regenerate the expected output with `TRYBUILD=overwrite` and read
//! every changed `.stderr` before committing it.

/// Every `tests/fail/*.rs` must fail to compile with exactly the diagnostics in its
/// `.stderr` file (one misuse per case, so a message regression shows up as a diff);
/// every `tests/pass/*.rs` must compile and its `main` must run without panicking.
#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/fail/*.rs");
    t.pass("tests/pass/*.rs");
}
