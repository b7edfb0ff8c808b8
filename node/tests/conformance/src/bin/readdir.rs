//! fd_readdir: every entry of a large directory across several calls
//! (cookies), names and types of a tree.

use std::fs;

use conformance::{check, expect_eq, finish};

fn names(dir: &str) -> Result<Vec<String>, String> {
    let mut names = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| e.to_string())? {
        let entry = entry.map_err(|e| e.to_string())?;
        let kind = entry.file_type().map_err(|e| e.to_string())?;
        let slash = if kind.is_dir() { "/" } else { "" };
        names.push(format!("{}{slash}", entry.file_name().to_string_lossy()));
    }
    names.sort();
    Ok(names)
}

fn main() {
    check(
        "lists the tree with types",
        (|| expect_eq(names("/workspace/tree")?, vec!["a.txt".into(), "b/".into()]))(),
    );
    check(
        "lists 300 entries across cookies",
        (|| {
            fs::create_dir("/workspace/many").map_err(|e| e.to_string())?;
            for i in 0..300 {
                fs::write(format!("/workspace/many/entry-with-a-long-name-{i:03}"), "")
                    .map_err(|e| e.to_string())?;
            }
            let listed = names("/workspace/many")?;
            expect_eq(
                (listed.len(), listed[0].as_str(), listed[299].as_str()),
                (
                    300,
                    "entry-with-a-long-name-000",
                    "entry-with-a-long-name-299",
                ),
            )
        })(),
    );
    check(
        "an empty directory lists nothing",
        (|| {
            fs::create_dir("/workspace/empty").map_err(|e| e.to_string())?;
            expect_eq(names("/workspace/empty")?.len(), 0)
        })(),
    );
    finish()
}
