//! Compile-time behaviour, pinned with trybuild: the good shapes compile, and each mistake is
//! one error pointing at it (regenerate the `.stderr` files with `TRYBUILD=overwrite`).

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
