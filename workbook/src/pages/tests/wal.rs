//! Reading the WAL: full reads, cursors, uncommitted and torn frames,
//! restarts and shrinking databases.

use super::*;

#[test]
fn a_fresh_wal_applied_to_an_empty_replica_equals_the_checkpointed_file() {
    let live = Live::new();
    for i in 0..5 {
        live.insert(20, 300, i);
    }
    let (change, cursor) = changed(read_wal(&live.db, None).unwrap());
    assert_eq!(change.page_size, 4096);
    assert!(change.pages.windows(2).all(|w| w[0].number < w[1].number));
    assert_eq!(cursor.page_size(), 4096);
    assert!(cursor.frames() > 0);
    assert_eq!(change.bytes(), change.pages.len() as u64 * 4096);
    let replica = live.path("replica.db");
    apply_change(&replica, &change).unwrap();
    live.assert_replica(&replica);
}

#[test]
fn rounds_with_a_cursor_ship_only_new_pages_and_keep_the_replica_identical() {
    let live = Live::new();
    live.insert(200, 500, 1);
    let replica = live.seed("replica.db");
    let mut cursor = None;
    for round in 0..6u8 {
        live.insert(10, 700, round);
        live.conn
            .execute(
                "UPDATE t SET v = ?1 WHERE id % 7 = ?2",
                params![vec![round; 90], round % 7],
            )
            .unwrap();
        live.conn
            .execute("DELETE FROM t WHERE id % 11 = ?1", params![round])
            .unwrap();
        assert!(ship(&live.db, &mut cursor, &replica).is_some());
        assert_eq!(
            read_wal(&live.db, cursor.as_ref()).unwrap(),
            WalRead::Unchanged
        );
    }
    // One small update touches few pages, although the WAL holds many.
    // (id 7 survives the deletes: 7 % 11 is not a round number.)
    let updated = live
        .conn
        .execute("UPDATE t SET v = x'01' WHERE id = 7", [])
        .unwrap();
    assert_eq!(updated, 1);
    let small = ship(&live.db, &mut cursor, &replica).unwrap();
    let everything = changed(read_wal(&live.db, None).unwrap()).0;
    assert!(small.pages.len() <= 3, "{} pages", small.pages.len());
    assert!(everything.pages.len() > 10 * small.pages.len());
    live.assert_replica(&replica);
}

#[test]
fn an_open_transaction_is_not_shipped() {
    let live = Live::new();
    live.insert(5, 100, 1);
    let replica = live.seed("replica.db");
    live.insert(5, 100, 2);
    let mut cursor = None;
    ship(&live.db, &mut cursor, &replica).unwrap();
    let wal_len = fs::metadata(live.path("live.db-wal")).unwrap().len();

    // A second connection with a tiny cache spills its open transaction
    // into the WAL.
    let other = open_writer(&live.db);
    other.execute_batch("PRAGMA cache_size=2; BEGIN;").unwrap();
    let marker = b"UNCOMMITTED-MARKER-0123456789".repeat(30);
    for _ in 0..200 {
        other
            .execute("INSERT INTO t(v) VALUES (?1)", params![marker])
            .unwrap();
    }
    assert!(
        fs::metadata(live.path("live.db-wal")).unwrap().len() > wal_len,
        "the open transaction did not spill"
    );
    assert_eq!(
        read_wal(&live.db, cursor.as_ref()).unwrap(),
        WalRead::Unchanged
    );
    let (all, _) = changed(read_wal(&live.db, None).unwrap());
    assert!(!contains(&all, b"UNCOMMITTED-MARKER"));

    other.execute_batch("COMMIT;").unwrap();
    let shipped = ship(&live.db, &mut cursor, &replica).unwrap();
    assert!(contains(&shipped, b"UNCOMMITTED-MARKER"));
    drop(other);
    live.assert_replica(&replica);
}

#[test]
fn a_torn_or_corrupt_last_frame_is_not_shipped() {
    let live = Live::new();
    live.insert(10, 200, 1);
    let (first, first_cursor) = changed(read_wal(&live.db, None).unwrap());
    live.insert(3, 200, 2);
    let (_, full_cursor) = changed(read_wal(&live.db, None).unwrap());
    assert!(full_cursor.frames() > first_cursor.frames());

    let wal = fs::read(live.path("live.db-wal")).unwrap();
    let frame = 24 + 4096;
    let end = 32 + full_cursor.frames() as usize * frame;
    let copy = live.path("copy.db");
    fs::copy(&live.db, &copy).unwrap();
    let copy_wal = live.path("copy.db-wal");

    // Cut in the middle of the last (commit) frame.
    fs::write(&copy_wal, &wal[..end - frame / 2]).unwrap();
    let (change, cursor) = changed(read_wal(&copy, None).unwrap());
    assert_eq!((&change, &cursor), (&first, &first_cursor));

    // One flipped byte in the last frame's page.
    let mut corrupt = wal[..end].to_vec();
    corrupt[end - 100] ^= 0x55;
    fs::write(&copy_wal, &corrupt).unwrap();
    let (change, cursor) = changed(read_wal(&copy, None).unwrap());
    assert_eq!((&change, &cursor), (&first, &first_cursor));
    // From the cursor before the broken transaction: nothing committed.
    assert_eq!(
        read_wal(&copy, Some(&first_cursor)).unwrap(),
        WalRead::Unchanged
    );
}

#[test]
fn a_restarted_or_missing_wal_loses_the_cursor() {
    let live = Live::new();
    live.insert(10, 200, 1);
    let (_, cursor) = changed(read_wal(&live.db, None).unwrap());
    live.checkpoint();
    // Truncated to nothing: shorter than the cursor.
    assert_eq!(
        read_wal(&live.db, Some(&cursor)).unwrap(),
        WalRead::Restarted
    );
    assert_eq!(read_wal(&live.db, None).unwrap(), WalRead::Unchanged);
    // A new cycle with new salts.
    live.insert(30, 200, 2);
    let (_, new_cursor) = changed(read_wal(&live.db, None).unwrap());
    assert_ne!(new_cursor.salts(), cursor.salts());
    assert_eq!(
        read_wal(&live.db, Some(&cursor)).unwrap(),
        WalRead::Restarted
    );
    // No WAL at all.
    let other = live.path("plain.db");
    fs::copy(&live.db, &other).unwrap();
    assert_eq!(read_wal(&other, None).unwrap(), WalRead::Unchanged);
    assert_eq!(read_wal(&other, Some(&cursor)).unwrap(), WalRead::Restarted);
}

/// What a home's own checkpoint of shipped frames relies on: a `RESTART`
/// checkpoint reports the frames it took and leaves the WAL (and its salts)
/// in place until the next write starts a new cycle, whose frames alone
/// bring a replica of the checkpointed file up to date.
#[test]
fn after_a_restart_checkpoint_the_next_cycle_follows_the_checkpointed_file() {
    let live = Live::new();
    live.insert(50, 300, 1);
    let replica = live.seed("replica.db");
    live.insert(40, 500, 2);
    let mut cursor = None;
    assert!(ship(&live.db, &mut cursor, &replica).is_some());
    let shipped = cursor.clone().unwrap();
    let (busy, frames): (i64, i64) = live
        .conn
        .query_row("PRAGMA wal_checkpoint(RESTART)", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(busy, 0);
    assert_eq!(u64::try_from(frames).unwrap(), shipped.frames());
    assert_eq!(wal_salts(&live.db).unwrap(), Some(shipped.salts()));
    live.insert(5, 700, 3);
    let salts = wal_salts(&live.db).unwrap();
    assert!(salts.is_some_and(|s| s != shipped.salts()), "{salts:?}");
    let (change, next) = changed(read_wal(&live.db, None).unwrap());
    assert!(
        next.frames() < shipped.frames(),
        "only the new cycle's frames"
    );
    apply_change(&replica, &change).unwrap();
    live.assert_replica(&replica);
    assert_eq!(wal_salts(&live.path("none.db")).unwrap(), None);
}

#[test]
fn a_shrinking_database_truncates_the_replica() {
    let live = Live::new();
    live.insert(300, 1000, 1);
    let replica = live.seed("replica.db");
    let before = fs::metadata(&replica).unwrap().len();
    let mut cursor = None;
    live.conn
        .execute("DELETE FROM t WHERE id > 10", [])
        .unwrap();
    ship(&live.db, &mut cursor, &replica).unwrap();
    live.conn.execute_batch("VACUUM;").unwrap();
    let change = ship(&live.db, &mut cursor, &replica).unwrap();
    assert!(u64::from(change.db_pages) * 4096 < before / 4);
    assert_eq!(
        fs::metadata(&replica).unwrap().len(),
        u64::from(change.db_pages) * 4096
    );
    live.assert_replica(&replica);
}

#[test]
fn the_digest_covers_sizes_numbers_and_data() {
    let page = |number, byte| PageImage {
        number,
        data: vec![byte; 512],
    };
    let change = PageChange {
        page_size: 512,
        db_pages: 3,
        pages: vec![page(1, 0), page(3, 7)],
    };
    let base = change.digest();
    assert_eq!(base, change.clone().digest());
    assert_eq!(change.bytes(), 1024);
    let mut other = change.clone();
    other.db_pages = 4;
    assert_ne!(other.digest(), base);
    let mut other = change.clone();
    other.pages[1].number = 2;
    assert_ne!(other.digest(), base);
    let mut other = change;
    other.pages[1].data[100] = 8;
    assert_ne!(other.digest(), base);
}
