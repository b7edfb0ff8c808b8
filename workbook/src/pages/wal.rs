//! The WAL reader: parses an SQLite WAL file (sqlite.org/fileformat2.html,
//! "The Write-Ahead Log") with plain file reads and returns the committed
//! frames past a cursor.
//!
//! Header (32 bytes, big-endian): magic, format version, page size,
//! checkpoint sequence, salt-1, salt-2, checksum-1, checksum-2. Frame: a
//! 24-byte header (page number, database size after commit or 0, salt-1,
//! salt-2, checksum-1, checksum-2) and the page. The checksums are
//! cumulative: over the header's first 24 bytes, then over each frame's
//! first 8 header bytes and its page, continuing from the frame before.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::{context, valid_page_size, PageChange, PageImage, WalCursor, WalRead};

/// WAL magic with little-endian checksum words (the low bit clear).
const MAGIC_LE: u32 = 0x377f_0682;
/// WAL magic with big-endian checksum words (the low bit set).
const MAGIC_BE: u32 = 0x377f_0683;
/// The only WAL format version.
const WAL_VERSION: u32 = 3_007_000;
/// Bytes in the WAL header.
pub(super) const HEADER_BYTES: u64 = 32;
/// Bytes in a frame header.
pub(super) const FRAME_HEADER_BYTES: usize = 24;

/// The parsed and verified WAL header.
struct WalHeader {
    big_endian: bool,
    page_size: u32,
    salts: (u32, u32),
    checksum: (u32, u32),
}

/// Reads the WAL of the database at `db` (the file `db` + `-wal`) from
/// `cursor`; `None` reads from the first frame (the caller knows the main
/// file itself is the base, i.e. no checkpoint has restarted the WAL since
/// the caller copied it).
///
/// Only frames of the current WAL cycle (salts equal to the header's) whose
/// cumulative checksum verifies are taken, and only up to the last commit
/// frame: a frame being written concurrently (torn read) or an uncommitted
/// transaction's frames are never returned. Reads never go past the length
/// the file had when reading started. With `cursor` `None` and no WAL (or
/// an empty or invalid one): [`WalRead::Unchanged`].
pub fn read_wal(db: &Path, cursor: Option<&WalCursor>) -> io::Result<WalRead> {
    let path = wal_path(db);
    let mut file = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(missing(cursor)),
        Err(e) => return Err(context("open", &path, e)),
    };
    let len = file
        .metadata()
        .map_err(|e| context("stat", &path, e))?
        .len();
    let Some(header) = read_header(&mut file, len, &path)? else {
        return Ok(missing(cursor));
    };
    let frame_bytes = FRAME_HEADER_BYTES as u64 + u64::from(header.page_size);
    let (start, mut checksum) = match cursor {
        None => (0, header.checksum),
        Some(c) => {
            let same_cycle = c.salts == header.salts && c.page_size == header.page_size;
            let end = c
                .frames
                .saturating_mul(frame_bytes)
                .saturating_add(HEADER_BYTES);
            if !same_cycle || end > len {
                return Ok(WalRead::Restarted);
            }
            (c.frames, c.checksum)
        }
    };
    let offset = HEADER_BYTES + start * frame_bytes;
    file.seek(SeekFrom::Start(offset))
        .map_err(|e| context("seek in", &path, e))?;
    let mut reader = BufReader::with_capacity(256 * 1024, file.take(len - offset));
    let available = (len - HEADER_BYTES) / frame_bytes;
    let mut frame = vec![0u8; frame_bytes as usize];
    let mut pending: BTreeMap<u32, Vec<u8>> = BTreeMap::new();
    let mut committed: BTreeMap<u32, Vec<u8>> = BTreeMap::new();
    let mut last_commit: Option<(u64, (u32, u32), u32)> = None;
    for index in start..available {
        match reader.read_exact(&mut frame) {
            Ok(()) => {}
            // Truncated under us (a checkpoint): stop at what was read.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(context("read", &path, e)),
        }
        let Some((page, db_size, next)) = check_frame(&header, checksum, &frame) else {
            break;
        };
        checksum = next;
        pending.insert(page, frame[FRAME_HEADER_BYTES..].to_vec());
        if db_size != 0 {
            committed.append(&mut pending);
            last_commit = Some((index + 1, checksum, db_size));
        }
    }
    let Some((frames, checksum, db_pages)) = last_commit else {
        return Ok(WalRead::Unchanged);
    };
    let pages = committed
        .into_iter()
        .filter(|(number, _)| *number <= db_pages)
        .map(|(number, data)| PageImage { number, data })
        .collect();
    Ok(WalRead::Changed {
        change: PageChange {
            page_size: header.page_size,
            db_pages,
            pages,
        },
        cursor: WalCursor {
            salts: header.salts,
            frames,
            checksum,
            page_size: header.page_size,
        },
    })
}

/// The WAL file of the database at `db`: its path with `-wal` appended.
pub fn wal_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push("-wal");
    PathBuf::from(name)
}

/// The answer when there is no usable WAL: nothing new when reading from
/// the start, otherwise the cursor is lost.
fn missing(cursor: Option<&WalCursor>) -> WalRead {
    match cursor {
        None => WalRead::Unchanged,
        Some(_) => WalRead::Restarted,
    }
}

/// The salts of the WAL beside the database at `db` (they identify its
/// cycle); `None` without a WAL or with an invalid one.
pub fn wal_salts(db: &Path) -> io::Result<Option<(u32, u32)>> {
    let path = wal_path(db);
    let mut file = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(context("open", &path, e)),
    };
    let len = file
        .metadata()
        .map_err(|e| context("stat", &path, e))?
        .len();
    Ok(read_header(&mut file, len, &path)?.map(|h| h.salts))
}

/// Reads and verifies the WAL header; `None` if the file is shorter than
/// a header or the header is not a valid one (SQLite then treats the WAL
/// as empty).
fn read_header(file: &mut File, len: u64, path: &Path) -> io::Result<Option<WalHeader>> {
    let mut bytes = [0u8; HEADER_BYTES as usize];
    if len < HEADER_BYTES {
        return Ok(None);
    }
    match file.read_exact(&mut bytes) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(context("read header of", path, e)),
    }
    let word = |i: usize| be32(&bytes[i * 4..]);
    let big_endian = match word(0) {
        MAGIC_BE => true,
        MAGIC_LE => false,
        _ => return Ok(None),
    };
    let page_size = word(2);
    if word(1) != WAL_VERSION || !valid_page_size(page_size) {
        return Ok(None);
    }
    let checksum = wal_checksum(big_endian, (0, 0), &bytes[..24]);
    if checksum != (word(6), word(7)) {
        return Ok(None);
    }
    Ok(Some(WalHeader {
        big_endian,
        page_size,
        salts: (word(4), word(5)),
        checksum,
    }))
}

/// Verifies one frame (header + page) against the WAL header and the
/// running checksum `running`. Returns the page number, the database size
/// after commit (0 if not a commit frame) and the new running checksum, or
/// `None` if the frame is not valid.
fn check_frame(
    header: &WalHeader,
    running: (u32, u32),
    frame: &[u8],
) -> Option<(u32, u32, (u32, u32))> {
    let word = |i: usize| be32(&frame[i * 4..]);
    let page = word(0);
    if page == 0 || (word(2), word(3)) != header.salts {
        return None;
    }
    let sum = wal_checksum(header.big_endian, running, &frame[..8]);
    let sum = wal_checksum(header.big_endian, sum, &frame[FRAME_HEADER_BYTES..]);
    (sum == (word(4), word(5))).then_some((page, word(1), sum))
}

/// SQLite's WAL checksum over `data` (a multiple of 8 bytes), continuing
/// from `(s0, s1)`: for each pair of 32-bit words x0, x1 in the WAL's byte
/// order, `s0 += x0 + s1; s1 += x1 + s0` (wrapping).
fn wal_checksum(big_endian: bool, (mut s0, mut s1): (u32, u32), data: &[u8]) -> (u32, u32) {
    let word = |b: &[u8]| {
        let bytes = [b[0], b[1], b[2], b[3]];
        if big_endian {
            u32::from_be_bytes(bytes)
        } else {
            u32::from_le_bytes(bytes)
        }
    };
    for pair in data.chunks_exact(8) {
        s0 = s0.wrapping_add(word(&pair[..4])).wrapping_add(s1);
        s1 = s1.wrapping_add(word(&pair[4..])).wrapping_add(s0);
    }
    (s0, s1)
}

/// The big-endian u32 at the start of `b` (at least 4 bytes).
fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}
