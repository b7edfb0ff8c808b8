//! examples/render, the render farm: its `tile` kernel path-traces through
//! the engine's kernel shape (a frame rendered as one tile equals it
//! rendered in twelve; bad input is the guest's own error), and its
//! `assemble` command, docked on a node, puts tiles from the workspace (or
//! from stdin) together into `render/frame.png`, the same bytes every time,
//! and names a missing or short tile.

use crate::common;

use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use common::{call_args, TestNode};
use nexus_engine::{CallError, Engine, KernelInstance, Profile};
use nexus_node::api::types::{CallRequest, Encoding};
use nexus_node::client::NodeClient;
use nexus_node::sandbox::Verb;
use nexus_workbook::{Volume, Workbook, DEFAULT_MODE};
use sha2::{Digest, Sha256};

/// The workbook directory, its two modules built by scripts/setup.sh.
fn render_dir() -> PathBuf {
    let dir = common::repo_root().join("examples/render");
    for module in ["tile.wasm", "assemble.wasm"] {
        assert!(
            dir.join(module).exists(),
            "examples/render/{module} is missing: run scripts/setup.sh (it builds the example guests)"
        );
    }
    dir
}

/// A tile rectangle: x, y, w, h.
type Rect = (u32, u32, u32, u32);

/// The tiles of a `width`×`height` frame cut into `tiles_x`×`tiles_y`, in
/// row-major order, as the workbook's README defines them: column `tx`
/// spans `tx*width/tiles_x .. (tx+1)*width/tiles_x`.
fn tiles(width: u32, height: u32, tiles_x: u32, tiles_y: u32) -> Vec<Rect> {
    let edge = |i: u32, size: u32, parts: u32| i * size / parts;
    let mut out = Vec::new();
    for ty in 0..tiles_y {
        for tx in 0..tiles_x {
            let (x0, x1) = (edge(tx, width, tiles_x), edge(tx + 1, width, tiles_x));
            let (y0, y1) = (edge(ty, height, tiles_y), edge(ty + 1, height, tiles_y));
            out.push((x0, y0, x1 - x0, y1 - y0));
        }
    }
    out
}

/// The kernel's input for one tile.
fn request(width: u32, height: u32, (x, y, w, h): Rect) -> Vec<u8> {
    format!(r#"{{"width":{width},"height":{height},"x":{x},"y":{y},"w":{w},"h":{h}}}"#).into_bytes()
}

/// A `tile` kernel instance under `compute`.
async fn tile_kernel() -> KernelInstance {
    let wasm = std::fs::read(render_dir().join("tile.wasm")).expect("tile.wasm");
    let engine = Engine::new().expect("engine");
    let module = engine
        .compile(&hex::encode(Sha256::digest(&wasm)), &wasm)
        .expect("compile");
    engine
        .kernel(&module, &Profile::compute())
        .await
        .expect("kernel")
}

/// Renders every tile of the split through `kernel`: their pixels in tile
/// order.
async fn render_tiles(
    kernel: &KernelInstance,
    width: u32,
    height: u32,
    tiles_x: u32,
    tiles_y: u32,
) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for rect in tiles(width, height, tiles_x, tiles_y) {
        let pixels = kernel
            .call(&request(width, height, rect))
            .await
            .expect("tile renders");
        assert_eq!(pixels.len(), (rect.2 * rect.3 * 3) as usize, "{rect:?}");
        out.push(pixels);
    }
    out
}

/// Puts tiles together into a frame (RGB8, row-major).
fn piece(width: u32, height: u32, tiles_x: u32, tiles_y: u32, pixels: &[Vec<u8>]) -> Vec<u8> {
    let mut frame = vec![0u8; (width * height * 3) as usize];
    for ((x, y, w, h), tile) in tiles(width, height, tiles_x, tiles_y)
        .into_iter()
        .zip(pixels)
    {
        for row in 0..h {
            let src = (row * w * 3) as usize;
            let dst = (((y + row) * width + x) * 3) as usize;
            let n = (w * 3) as usize;
            frame[dst..dst + n].copy_from_slice(&tile[src..src + n]);
        }
    }
    frame
}

#[tokio::test]
async fn tile_kernel_renders_the_same_frame_as_one_tile_or_twelve() {
    let kernel = tile_kernel().await;
    let (width, height) = (64, 36);
    let whole = render_tiles(&kernel, width, height, 1, 1).await.concat();
    let pieced = piece(
        width,
        height,
        4,
        3,
        &render_tiles(&kernel, width, height, 4, 3).await,
    );
    assert_eq!(whole.len(), 64 * 36 * 3);
    assert!(
        whole == pieced,
        "the frame differs when rendered in 4x3 tiles"
    );
    // A real picture, not a blank: sky, ground, spheres.
    let colours: std::collections::BTreeSet<&[u8]> = whole.chunks(3).collect();
    assert!(colours.len() > 200, "{} colours", colours.len());
    // The top left pixel is sky: more blue than red.
    let top = &whole[..3];
    assert!(top[2] > top[0], "sky {top:?}");
    assert_eq!(
        kernel.instantiations(),
        1,
        "one instance rendered every tile"
    );
}

#[tokio::test]
async fn tile_kernel_refuses_bad_input_as_its_own_error() {
    let kernel = tile_kernel().await;
    let guest_error = |code: i32| {
        CallError::Trapped(format!(
            "`process` returned {code}, a negative length (an error of the guest)"
        ))
    };
    for (input, code) in [
        (&b"not json"[..], -1),
        (b"", -1),
        (br#"{"width":64,"height":36,"x":0,"y":0,"w":16}"#, -1),
        (
            br#"{"width":64,"height":36,"x":0,"y":0,"w":16,"h":12,"spp":9}"#,
            -1,
        ),
        (
            br#"{"width":64,"height":36,"x":0,"y":0,"w":-16,"h":12}"#,
            -1,
        ),
        (
            br#"{"width":64,"height":36,"x":60,"y":0,"w":16,"h":12}"#,
            -2,
        ),
        (
            br#"{"width":64,"height":36,"x":0,"y":30,"w":16,"h":12}"#,
            -2,
        ),
        (br#"{"width":64,"height":36,"x":0,"y":0,"w":0,"h":12}"#, -2),
        (br#"{"width":0,"height":0,"x":0,"y":0,"w":0,"h":0}"#, -2),
        // 1200x1200 RGB8 is 4.32 MB, past the 4 MiB arena.
        (
            br#"{"width":4000,"height":4000,"x":0,"y":0,"w":1200,"h":1200}"#,
            -3,
        ),
    ] {
        let err = kernel.call(input).await.expect_err("refused");
        assert_eq!(err, guest_error(code), "{}", String::from_utf8_lossy(input));
        assert_eq!(
            nexus_errors::Coded::code(&err),
            nexus_errors::ErrorCode::CallTrapped
        );
    }
    // The instance is kept: a good tile renders on it next.
    let pixels = kernel
        .call(&request(64, 36, (0, 0, 8, 4)))
        .await
        .expect("renders after errors");
    assert_eq!(pixels.len(), 8 * 4 * 3);
    assert_eq!(kernel.instantiations(), 1);
}

/// Packs examples/render with `files` in its workspace and docks it.
async fn dock_with_tiles(
    client: &NodeClient,
    scratch: &Path,
    name: &str,
    files: &[(String, Vec<u8>)],
) -> String {
    let path = scratch.join(format!("{name}.workbook"));
    nexus_workbook::pack(&render_dir(), &path).expect("pack examples/render");
    let workbook = Workbook::open(&path).expect("open");
    for (file, bytes) in files {
        workbook
            .write_file(Volume::Workspace, file, bytes, DEFAULT_MODE)
            .expect("write tile");
    }
    workbook.close().expect("close");
    let bytes = std::fs::read(&path).expect("read workbook");
    client.dock(bytes, Some(name), None).await.expect("dock").id
}

/// The workspace files of a suspended sandbox: (path, bytes).
async fn workspace_of(node: &TestNode, client: &NodeClient, id: &str) -> Vec<(String, Vec<u8>)> {
    client
        .transit(id, Verb::Suspend, None)
        .await
        .expect("suspend");
    let file = node
        .data_dir
        .path()
        .join(format!("sandboxes/{id}.workbook"));
    common::volume_contents(&file)
        .into_iter()
        .filter(|(volume, _, _)| volume == "workspace")
        .map(|(_, path, bytes)| (path, bytes))
        .collect()
}

/// Decodes a PNG: (width, height, RGB8 pixels).
fn decode_png(bytes: &[u8]) -> (u32, u32, Vec<u8>) {
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().expect("a PNG");
    let mut pixels = vec![0; reader.output_buffer_size().expect("buffer size")];
    let info = reader.next_frame(&mut pixels).expect("PNG frame");
    assert_eq!(
        (info.color_type, info.bit_depth),
        (png::ColorType::Rgb, png::BitDepth::Eight)
    );
    pixels.truncate(info.buffer_size());
    (info.width, info.height, pixels)
}

fn tile_files(pixels: &[Vec<u8>]) -> Vec<(String, Vec<u8>)> {
    pixels
        .iter()
        .enumerate()
        .map(|(i, p)| (format!("render/tiles/{i}.rgb"), p.clone()))
        .collect()
}

#[tokio::test]
async fn assemble_puts_the_rendered_tiles_together_into_a_png_in_the_workspace() {
    // 5x3 tiles of a 64x36 frame: widths 12 and 13, heights 12.
    let (width, height, tiles_x, tiles_y) = (64, 36, 5, 3);
    let kernel = tile_kernel().await;
    let pixels = render_tiles(&kernel, width, height, tiles_x, tiles_y).await;
    let frame = piece(width, height, tiles_x, tiles_y, &pixels);
    let node = TestNode::start().await;
    let admin = node.admin();
    let scratch = node.data_dir.path();
    let args = ["64", "36", "5", "3"];

    let mut pngs = Vec::new();
    for name in ["render-a", "render-b"] {
        let id = dock_with_tiles(&admin, scratch, name, &tile_files(&pixels)).await;
        let out = call_args(&admin, &id, &args).await.expect("assemble");
        assert_eq!(out.exit_code, 0, "{}", out.stderr);
        let files = workspace_of(&node, &admin, &id).await;
        let paths: Vec<&str> = files.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(paths, ["render/frame.png"], "the tiles are removed");
        let png = files[0].1.clone();
        assert_eq!(
            out.stdout,
            format!("wrote render/frame.png 64x36 ({} bytes)\n", png.len())
        );
        assert_eq!(decode_png(&png), (width, height, frame.clone()));
        pngs.push(png);
    }
    assert!(pngs[0] == pngs[1], "the same tiles make the same PNG bytes");

    // The tiles as the call's input instead (concatenated in tile order).
    let id = dock_with_tiles(&admin, scratch, "render-stdin", &[]).await;
    let request = CallRequest {
        args: args.iter().map(|a| a.to_string()).collect(),
        stdin: BASE64.encode(pixels.concat()),
        stdin_encoding: Encoding::Base64,
        ..Default::default()
    };
    let out = admin.call(&id, &request).await.expect("assemble stdin");
    assert_eq!(out.exit_code, 0, "{}", out.stderr);
    let files = workspace_of(&node, &admin, &id).await;
    assert_eq!(files.len(), 1);
    assert!(files[0].1 == pngs[0], "stdin and files make the same PNG");
}

#[tokio::test]
async fn assemble_names_missing_and_short_tiles_and_checks_its_arguments() {
    // 4x3 tiles of a 64x36 frame, 16x12 each (576 bytes).
    let node = TestNode::start().await;
    let admin = node.admin();
    let mut files: Vec<(String, Vec<u8>)> = (0..12)
        .map(|i| (format!("render/tiles/{i}.rgb"), vec![i as u8; 576]))
        .collect();
    files.remove(5);
    files[2].1.truncate(10);
    let id = dock_with_tiles(&admin, node.data_dir.path(), "render-broken", &files).await;

    let out = call_args(&admin, &id, &["64", "36", "4", "3"])
        .await
        .expect("call");
    assert_eq!(out.exit_code, 1, "{}", out.stderr);
    assert_eq!(out.stdout, "");
    assert_eq!(
        out.stderr,
        "assemble: tile 2 (render/tiles/2.rgb, columns 32..48, rows 0..12) has 10 bytes, want 576 (16x12 RGB8)\n\
         assemble: tile 5 (render/tiles/5.rgb, columns 16..32, rows 12..24) is missing\n"
    );

    for args in [
        &[][..],
        &["64", "36", "4"],
        &["64", "36", "4", "3", "1"],
        &["64", "36", "0", "3"],
        &["64", "36", "65", "3"],
        &["sixty-four", "36", "4", "3"],
        &["-64", "36", "4", "3"],
    ] {
        let out = call_args(&admin, &id, args).await.expect("call");
        assert_eq!(out.exit_code, 2, "{args:?}");
        assert!(
            out.stderr
                .starts_with("usage: assemble WIDTH HEIGHT TILES_X TILES_Y\n"),
            "{args:?}: {}",
            out.stderr
        );
    }

    // Nothing was written or removed.
    let mut stored: Vec<(String, Vec<u8>)> = workspace_of(&node, &admin, &id).await;
    stored.sort();
    files.sort();
    assert!(stored == files, "the workspace changed");
}
