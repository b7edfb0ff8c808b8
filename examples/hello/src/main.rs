//! The hello workbook: greets the names given as arguments and echoes any
//! input it receives on stdin. Built for `wasm32-wasip1` and run by Nexus in
//! the `command` call shape.

use std::io::Read;

fn main() {
    let names: Vec<String> = std::env::args().skip(1).collect();
    let who = if names.is_empty() {
        "world".to_string()
    } else {
        names.join(" and ")
    };
    println!("Hello, {who}! This is a Nexus sandbox speaking.");

    let mut input = String::new();
    if std::io::stdin().read_to_string(&mut input).is_ok() && !input.is_empty() {
        println!("You sent {} bytes: {}", input.len(), input.trim_end());
    }
}
