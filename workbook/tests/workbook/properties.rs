//! Property tests of the workbook parser: whatever bytes a file holds,
//! opening it never panics and a refusal carries a workbook code; a valid
//! workbook with bytes flipped is refused, at open or when read, with a
//! workbook code;
//! manifests and volume paths are refused with a code, never accepted
//! when they could escape.

use nexus_errors::{Coded, ErrorCode};
use nexus_workbook::{validate_file_path, Manifest, Workbook, MANIFEST_FILE};
use proptest::prelude::*;

use crate::fixtures::{multi_page_workbook, Scratch};

/// The codes a damaged or foreign file may be refused with.
const REFUSALS: [ErrorCode; 6] = [
    ErrorCode::WorkbookUnreadable,
    ErrorCode::WorkbookNotAWorkbook,
    ErrorCode::WorkbookVersionUnsupported,
    ErrorCode::WorkbookTruncated,
    ErrorCode::WorkbookCorrupt,
    ErrorCode::WorkbookModuleInvalid,
];

const SQLITE_MAGIC: &[u8] = b"SQLite format 3\0";

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 64,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_bytes_are_refused_with_a_workbook_code(
        sqlite_header in any::<bool>(),
        body in proptest::collection::vec(any::<u8>(), 0..8192),
    ) {
        let scratch = Scratch::new();
        let path = scratch.path("junk.workbook");
        let mut bytes = if sqlite_header { SQLITE_MAGIC.to_vec() } else { Vec::new() };
        bytes.extend(body);
        std::fs::write(&path, &bytes).expect("write");
        match Workbook::open(&path) {
            Ok(_) => prop_assert!(false, "{} random bytes opened as a workbook", bytes.len()),
            Err(e) => prop_assert!(REFUSALS.contains(&e.code()), "{:?}: {e}", e.code()),
        }
    }

    #[test]
    fn a_damaged_workbook_is_refused_or_still_whole(
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..16),
    ) {
        let scratch = Scratch::new();
        let path = multi_page_workbook(scratch.dir.path(), "victim");
        let mut bytes = std::fs::read(&path).expect("read");
        for (at, value) in flips {
            let i = at.index(bytes.len());
            bytes[i] ^= value | 1;
        }
        std::fs::write(&path, &bytes).expect("write");
        match Workbook::open(&path) {
            // Damage SQLite's integrity check cannot see (a value's bytes,
            // free space) opens; reading it then is either whole or refused
            // with a workbook code, never a panic or an internal error.
            Ok(wb) => {
                if let Err(e) = wb.inspect() {
                    prop_assert!(REFUSALS.contains(&e.code()), "inspect: {:?}: {e}", e.code());
                }
            }
            Err(e) => prop_assert!(REFUSALS.contains(&e.code()), "{:?}: {e}", e.code()),
        }
    }

    #[test]
    fn any_manifest_text_parses_or_is_refused_with_its_code(text in "\\PC{0,400}") {
        let scratch = Scratch::new();
        scratch.write(&format!("pkg/{MANIFEST_FILE}"), text.as_bytes());
        if let Err(e) = Manifest::load(&scratch.path(&format!("pkg/{MANIFEST_FILE}"))) {
            prop_assert_eq!(e.code(), ErrorCode::WorkbookManifestInvalid, "{}", e);
        }
    }

    #[test]
    fn accepted_volume_paths_never_escape(
        parts in proptest::collection::vec(
            prop_oneof!["[a-z]{1,4}", Just("..".to_string()), Just(".".to_string()), Just(String::new())],
            1..6,
        ),
        absolute in any::<bool>(),
    ) {
        let path = format!("{}{}", if absolute { "/" } else { "" }, parts.join("/"));
        if validate_file_path(&path).is_ok() {
            prop_assert!(!path.starts_with('/'), "{path}");
            prop_assert!(
                path.split('/').all(|c| !c.is_empty() && c != "." && c != ".."),
                "{path}"
            );
        }
    }
}
