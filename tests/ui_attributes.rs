//! Compile-time behaviour of the run attributes, pinned with trybuild: the accepted shapes
//! compile, and each mistake is one error pointing at it (regenerate the `.stderr` files with
//! `TRYBUILD=overwrite`, then read them).

#[cfg(feature = "derive")]
#[test]
fn run_attributes_ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui-attrs/pass/*.rs");
    t.compile_fail("tests/ui-attrs/fail/*.rs");
}
