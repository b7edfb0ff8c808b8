//! The counter workbook: every call adds one to `count` in the workbook's
//! kv store and appends a line to `journal.txt` in its memory volume, so the
//! count and the journal survive suspend, freeze and restarts.

use nexus_guest::vfs::{self, Volume};
use nexus_guest::{kv, log};

fn main() -> Result<(), nexus_guest::Error> {
    let count = match kv::get("count")? {
        Some(bytes) => u64::from_le_bytes(bytes.try_into().unwrap_or_default()) + 1,
        None => 1,
    };
    kv::set("count", &count.to_le_bytes())?;

    let mut journal = vfs::read(Volume::Memory, "journal.txt")?.unwrap_or_default();
    journal.extend_from_slice(format!("call {count}\n").as_bytes());
    vfs::write(Volume::Memory, "journal.txt", &journal)?;

    log::write(log::Level::Info, &format!("counter at {count}"))?;
    println!("count = {count}");
    Ok(())
}
