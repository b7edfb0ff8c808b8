//! Files as 1 MiB blocks: the hashes a pre-copy remembers, the blocks a
//! delta re-sends, and the digest both sides compare. All blocking I/O, run
//! off the async workers.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

/// Bytes per block.
pub const BLOCK: usize = 1 << 20;

/// The SHA-256 of each block of a file.
pub type BlockHashes = Vec<[u8; 32]>;

/// Reads block `index` of `file` (shorter at the end, empty past it).
pub fn read_block(file: &mut File, index: u64) -> std::io::Result<Vec<u8>> {
    file.seek(SeekFrom::Start(index * BLOCK as u64))?;
    let mut block = Vec::with_capacity(BLOCK);
    Read::by_ref(file)
        .take(BLOCK as u64)
        .read_to_end(&mut block)?;
    Ok(block)
}

/// The hash of one block.
pub fn hash_block(block: &[u8]) -> [u8; 32] {
    Sha256::digest(block).into()
}

/// The block hashes of the file at `path` and its length.
pub fn hash_file(path: &Path) -> std::io::Result<(BlockHashes, u64)> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    let mut hashes = Vec::new();
    for index in 0..len.div_ceil(BLOCK as u64) {
        hashes.push(hash_block(&read_block(&mut file, index)?));
    }
    Ok((hashes, len))
}

/// The digest of a file from its block hashes and length: what source and
/// target compare.
pub fn digest(hashes: &BlockHashes, len: u64) -> String {
    let mut hasher = Sha256::new();
    for hash in hashes {
        hasher.update(hash);
    }
    hasher.update(len.to_be_bytes());
    hex::encode(hasher.finalize())
}

/// The blocks of `now` that differ from `before` (or are new).
pub fn changed(before: &BlockHashes, now: &BlockHashes) -> Vec<u64> {
    (0..now.len() as u64)
        .filter(|i| before.get(*i as usize) != now.get(*i as usize))
        .collect()
}

/// Writes `block` at block `index` of `file`.
pub fn write_block(file: &mut File, index: u64, block: &[u8]) -> std::io::Result<()> {
    file.seek(SeekFrom::Start(index * BLOCK as u64))?;
    file.write_all(block)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_changed_and_new_blocks_are_resent() {
        let a = [1u8; 32];
        let b = [2u8; 32];
        assert_eq!(changed(&vec![a, a, a], &vec![a, b, a, b]), vec![1, 3]);
        assert!(changed(&vec![a, a], &vec![a]).is_empty());
    }

    #[test]
    fn the_digest_covers_the_length() {
        let hashes = vec![[7u8; 32]];
        assert_ne!(digest(&hashes, 10), digest(&hashes, 11));
    }

    #[test]
    fn a_patched_file_hashes_like_the_original() {
        let dir = tempfile::tempdir().unwrap();
        let original = dir.path().join("a");
        let copy = dir.path().join("b");
        let bytes: Vec<u8> = (0..(BLOCK * 2 + 5)).map(|i| (i % 251) as u8).collect();
        std::fs::write(&original, &bytes).unwrap();
        std::fs::write(&copy, vec![0u8; BLOCK * 3]).unwrap();
        let (want, len) = hash_file(&original).unwrap();
        let mut from = File::open(&original).unwrap();
        let mut to = std::fs::OpenOptions::new().write(true).open(&copy).unwrap();
        for index in 0..want.len() as u64 {
            write_block(&mut to, index, &read_block(&mut from, index).unwrap()).unwrap();
        }
        to.set_len(len).unwrap();
        let (got, got_len) = hash_file(&copy).unwrap();
        assert_eq!(digest(&got, got_len), digest(&want, len));
    }
}
