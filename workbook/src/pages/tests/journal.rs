//! The crash-safe apply, recovery and malformed changes or journals.

use std::path::{Path, PathBuf};

use super::*;
use crate::pages::journal::{decode, encode, write_journal};

/// A change of `pages` pages of 512 bytes (numbers 1..=pages) filled with `fill`.
fn sample(pages: u32, fill: u8) -> PageChange {
    PageChange {
        page_size: 512,
        db_pages: pages,
        pages: (1..=pages)
            .map(|number| PageImage {
                number,
                data: vec![fill.wrapping_add(number as u8); 512],
            })
            .collect(),
    }
}

/// The two journal slots of a replica at `dir/name`.
fn slots(dir: &Path, name: &str) -> [PathBuf; 2] {
    [
        dir.join(format!("{name}.j0")),
        dir.join(format!("{name}.j1")),
    ]
}

#[test]
fn a_durable_apply_matches_a_plain_apply_and_keeps_the_last_two_changes() {
    let dir = tempfile::tempdir().unwrap();
    let (durable, plain) = (dir.path().join("a.db"), dir.path().join("b.db"));
    let slots = slots(dir.path(), "a");
    for (i, change) in [sample(4, 1), sample(2, 9), sample(3, 5)]
        .iter()
        .enumerate()
    {
        apply_change_durably(&durable, &slots, change, 10 + i as u64).unwrap();
        apply_change(&plain, change).unwrap();
        assert_eq!(fs::read(&durable).unwrap(), fs::read(&plain).unwrap());
    }
    assert_eq!(fs::metadata(&durable).unwrap().len(), 3 * 512);
    // Recovering re-applies the newest (tag 12, in slot 0): nothing changes.
    assert_eq!(recover(&durable, &slots).unwrap(), Some(12));
    assert_eq!(fs::read(&durable).unwrap(), fs::read(&plain).unwrap());
    clear(&slots).unwrap();
    assert!(!slots[0].exists() && !slots[1].exists());
    assert_eq!(recover(&durable, &slots).unwrap(), None);
}

#[test]
fn a_complete_slot_is_reapplied_by_recover_with_its_tag() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.db");
    let slots = slots(dir.path(), "r");
    apply_change_durably(&path, &slots, &sample(3, 1), 76).unwrap();
    let change = sample(5, 40);
    // A crash right after the journal became durable, before the apply.
    write_journal(&slots[1], &change, 77).unwrap();
    assert_eq!(recover(&path, &slots).unwrap(), Some(77));
    let expected = dir.path().join("expected.db");
    apply_change(&expected, &change).unwrap();
    assert_eq!(fs::read(&path).unwrap(), fs::read(&expected).unwrap());
    // A crash after a partial apply: recovering again completes it.
    apply_change(&path, &sample(1, 3)).unwrap();
    assert_eq!(recover(&path, &slots).unwrap(), Some(77));
    assert_eq!(fs::read(&path).unwrap(), fs::read(&expected).unwrap());
}

#[test]
fn a_torn_slot_is_ignored_and_the_previous_change_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let slots = slots(dir.path(), "t");
    apply_change_durably(&path, &slots, &sample(3, 1), 4).unwrap();
    let before = fs::read(&path).unwrap();
    let full = encode(&sample(6, 50), 5, &slots[1]).unwrap();
    for cut in [0, 7, 27, 28, 100, full.len() / 2, full.len() - 1] {
        fs::write(&slots[1], &full[..cut]).unwrap();
        assert_eq!(recover(&path, &slots).unwrap(), Some(4), "cut at {cut}");
        assert_eq!(fs::read(&path).unwrap(), before);
    }
    // Zeros where the data should be (a crash after the size was extended).
    fs::write(&slots[1], vec![0u8; full.len()]).unwrap();
    assert_eq!(recover(&path, &slots).unwrap(), Some(4));
    assert_eq!(fs::read(&path).unwrap(), before);
}

#[test]
fn the_journal_round_trips() {
    let change = sample(3, 2);
    let bytes = encode(&change, u64::MAX, Path::new("j")).unwrap();
    assert_eq!(bytes.len(), 28 + 3 * (4 + 512) + 32);
    assert_eq!(
        decode(&bytes, Path::new("j")).unwrap(),
        Some((change.clone(), u64::MAX))
    );
    // The public wire form is the same, and a flipped byte is refused.
    let mut wire = change.encode(7).unwrap();
    assert_eq!(PageChange::decode(&wire).unwrap(), (change, 7));
    wire[40] ^= 1;
    let err = PageChange::decode(&wire).unwrap_err();
    assert_eq!(
        err.to_string(),
        "page change: cut or corrupted (its SHA-256 trailer does not match)"
    );
}

#[test]
fn absurd_journals_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.db");
    let slots = slots(dir.path(), "x");
    let journal = slots[0].clone();
    // A file longer than the limit (sparse): refused without reading.
    let file = fs::File::create(&journal).unwrap();
    file.set_len(MAX_JOURNAL_BYTES + 1).unwrap();
    let err = recover(&path, &slots).unwrap_err();
    assert!(err.to_string().contains("x.j0"), "{err}");
    assert!(journal.exists() && !path.exists());

    // A complete journal declaring more than the limit.
    let mut body = b"NXPGJRN1".to_vec();
    body.extend_from_slice(&1u64.to_be_bytes());
    body.extend_from_slice(&65536u32.to_be_bytes());
    body.extend_from_slice(&100_000u32.to_be_bytes());
    body.extend_from_slice(&100_000u32.to_be_bytes());
    let digest: [u8; 32] = <sha2::Sha256 as sha2::Digest>::digest(&body).into();
    body.extend_from_slice(&digest);
    let err = decode(&body, &journal).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    assert!(err.to_string().contains("declares"), "{err}");
}

#[test]
fn malformed_changes_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.db");
    let mut beyond = sample(2, 0);
    beyond.db_pages = 1;
    let mut short = sample(2, 0);
    short.pages[0].data.pop();
    let mut unordered = sample(2, 0);
    unordered.pages.reverse();
    let mut size = sample(1, 0);
    size.page_size = 1000;
    for change in [beyond, short, unordered, size] {
        let err = apply_change(&path, &change).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidData, "{err}");
        assert!(!path.exists());
    }
}
