//! Compile-fail cases (each `.stderr` is the message a user sees) and compile-pass cases
//! for VIPE's macros. Regenerate the expected output with `TRYBUILD=overwrite` and read
//! every changed `.stderr` before committing it.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/fail/*.rs");
    t.pass("tests/pass/*.rs");
}
