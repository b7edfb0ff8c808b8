//! Generators of compile-bomb modules (built in memory, never committed):
//! many trivial functions, deeply nested blocks, and modules of N distinct
//! small functions. Shared with the node tests (`#[path]`).
#![allow(dead_code)]

/// `n` in unsigned LEB128.
fn leb(mut n: u64, out: &mut Vec<u8>) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// A section `id` holding `body`.
fn section(id: u8, body: &[u8], out: &mut Vec<u8>) {
    out.push(id);
    leb(body.len() as u64, out);
    out.extend_from_slice(body);
}

/// A module of one type `() -> ()` and the given function bodies (each
/// without its size prefix).
fn module_of(bodies: impl ExactSizeIterator<Item = Vec<u8>>) -> Vec<u8> {
    let n = bodies.len() as u64;
    let mut wasm = b"\0asm\x01\0\0\0".to_vec();
    section(1, &[1, 0x60, 0, 0], &mut wasm);
    let mut funcs = Vec::new();
    leb(n, &mut funcs);
    funcs.resize(funcs.len() + n as usize, 0);
    section(3, &funcs, &mut wasm);
    let mut code = Vec::new();
    leb(n, &mut code);
    for body in bodies {
        leb(body.len() as u64, &mut code);
        code.extend_from_slice(&body);
    }
    section(10, &code, &mut wasm);
    wasm
}

/// `n` functions that do nothing (1,000,000 of them: about 4 MB).
pub fn many_functions(n: usize) -> Vec<u8> {
    module_of((0..n).map(|_| vec![0, 0x0b]))
}

/// One function nesting `depth` empty blocks (1,000,000: about 3 MB).
pub fn nested_blocks(depth: usize) -> Vec<u8> {
    let mut body = vec![0];
    for _ in 0..depth {
        body.extend_from_slice(&[0x02, 0x40]);
    }
    body.resize(body.len() + depth + 1, 0x0b);
    module_of(std::iter::once(body))
}

/// A valid module unlike any other `seed`: `functions` functions, each
/// pushing and dropping a seed-dependent constant.
pub fn distinct(seed: u64, functions: usize) -> Vec<u8> {
    module_of((0..functions).map(|i| {
        let mut body = vec![0, 0x42];
        let mut konst = Vec::new();
        leb(
            seed.wrapping_mul(1_000_003).wrapping_add(i as u64) & 0x3fff_ffff,
            &mut konst,
        );
        body.extend_from_slice(&konst);
        body.extend_from_slice(&[0x1a, 0x0b]);
        body
    }))
}
