//! docs/errors.md and the code's error catalog must list the same codes.

use std::collections::BTreeSet;

use nexus_errors::ErrorCode;

fn documented_codes() -> BTreeSet<String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/errors.md");
    let doc = std::fs::read_to_string(path).expect("docs/errors.md exists");
    doc.lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|rest| rest.split('`').next())
        .map(str::to_string)
        .collect()
}

#[test]
fn every_code_is_documented_and_every_documented_code_exists() {
    let documented = documented_codes();
    let in_code: BTreeSet<String> = ErrorCode::ALL
        .iter()
        .map(|c| c.as_str().to_string())
        .collect();
    let undocumented: Vec<_> = in_code.difference(&documented).collect();
    let stale: Vec<_> = documented.difference(&in_code).collect();
    assert!(
        undocumented.is_empty(),
        "codes missing from docs/errors.md: {undocumented:?}"
    );
    assert!(
        stale.is_empty(),
        "docs/errors.md lists codes the node lacks: {stale:?}"
    );
}

#[test]
fn codes_are_unique_and_have_hints() {
    let mut seen = BTreeSet::new();
    for code in ErrorCode::ALL {
        assert!(
            seen.insert(code.as_str()),
            "duplicate code {}",
            code.as_str()
        );
        assert!(
            code.hint().len() > 10,
            "{} needs a real hint",
            code.as_str()
        );
        assert!(
            (400..600).contains(&code.status()),
            "{} status",
            code.as_str()
        );
        assert_eq!(ErrorCode::parse(code.as_str()), Some(*code));
    }
}
