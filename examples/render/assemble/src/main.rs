//! `assemble WIDTH HEIGHT TILES_X TILES_Y`: puts the tiles the `tile`
//! kernel rendered together into a PNG.
//!
//! Reads tile `index = ty*TILES_X + tx` from
//! `/workspace/render/tiles/{index}.rgb` (RGB8, row-major, its rectangle
//! given by `render-geometry`), checks that every tile is there with the
//! right length, writes `/workspace/render/frame.png` (RGB8, fdeflate,
//! adaptive filtering: the same tiles always give the same bytes), removes
//! the tiles and prints `wrote render/frame.png WxH (N bytes)`.
//!
//! A call with input takes the tiles from stdin instead: all of them
//! concatenated in tile order (`WIDTH*HEIGHT*3` bytes); no files are read
//! or removed then.
//!
//! Exit codes: 0 done, 1 a tile missing or of the wrong length (each named
//! on stderr), input of the wrong length, or an I/O error (no tile is
//! removed then), 2 bad arguments.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use render_geometry::{self as geometry, Rect, FRAME_PATH};

/// Where the workspace volume is preopened.
const WORKSPACE: &str = "/workspace";

/// The largest frame side `assemble` takes.
const MAX_SIDE: u32 = 65_535;

const USAGE: &str = "usage: assemble WIDTH HEIGHT TILES_X TILES_Y
  puts /workspace/render/tiles/{ty*TILES_X+tx}.rgb (RGB8) together into /workspace/render/frame.png
  and removes them; with input, takes the tiles concatenated in that order from stdin instead
  (1 <= WIDTH, HEIGHT <= 65535; 1 <= TILES_X <= WIDTH; 1 <= TILES_Y <= HEIGHT)";

/// The frame and how it is split.
struct Frame {
    width: u32,
    height: u32,
    tiles_x: u32,
    tiles_y: u32,
}

/// Where the tiles come from.
enum Source {
    /// `render/tiles/{index}.rgb` in the workspace.
    Files,
    /// stdin: every tile, in order.
    Input(Vec<u8>),
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(frame) = parse_args(&args) else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let mut input = Vec::new();
    if let Err(e) = std::io::stdin().read_to_end(&mut input) {
        eprintln!("assemble: stdin: {e}");
        return ExitCode::FAILURE;
    }
    let source = if input.is_empty() {
        Source::Files
    } else {
        Source::Input(input)
    };
    match assemble(&frame, &source) {
        Ok(bytes) => {
            println!(
                "wrote {FRAME_PATH} {}x{} ({bytes} bytes)",
                frame.width, frame.height
            );
            ExitCode::SUCCESS
        }
        Err(problems) => {
            for problem in problems {
                eprintln!("assemble: {problem}");
            }
            ExitCode::FAILURE
        }
    }
}

fn parse_args(args: &[String]) -> Option<Frame> {
    let [width, height, tiles_x, tiles_y] = args else {
        return None;
    };
    let number = |s: &String| s.parse::<u32>().ok().filter(|n| (1..=MAX_SIDE).contains(n));
    let frame = Frame {
        width: number(width)?,
        height: number(height)?,
        tiles_x: number(tiles_x)?,
        tiles_y: number(tiles_y)?,
    };
    (frame.tiles_x <= frame.width && frame.tiles_y <= frame.height).then_some(frame)
}

/// A path in the workspace.
fn workspace(path: &str) -> PathBuf {
    PathBuf::from(WORKSPACE).join(path)
}

/// Checks the tiles, writes the PNG and removes the tile files; the PNG's
/// size, or what went wrong.
fn assemble(frame: &Frame, source: &Source) -> Result<u64, Vec<String>> {
    let tiles = geometry::tiles(frame.width, frame.height, frame.tiles_x, frame.tiles_y);
    match source {
        Source::Files => {
            let problems: Vec<String> = tiles
                .iter()
                .enumerate()
                .filter_map(|(index, rect)| check_tile(index, rect).err())
                .collect();
            if !problems.is_empty() {
                return Err(problems);
            }
        }
        Source::Input(input) => {
            let want: u64 = tiles.iter().map(Rect::rgb_len).sum();
            if input.len() as u64 != want {
                return Err(vec![format!(
                    "the input has {} bytes, want {want} (the {} tiles of a {}x{} RGB8 frame, in tile order)",
                    input.len(),
                    tiles.len(),
                    frame.width,
                    frame.height
                )]);
            }
        }
    }
    let out = workspace(FRAME_PATH);
    let written = write_png(frame, &tiles, source, &out).and_then(|()| {
        std::fs::metadata(&out)
            .map(|m| m.len())
            .map_err(|e| format!("{FRAME_PATH}: {e}"))
    });
    let bytes = match written {
        Ok(bytes) => bytes,
        Err(e) => {
            // A call that exits keeps its files: leave no half-written frame.
            let _ = std::fs::remove_file(&out);
            return Err(vec![e]);
        }
    };
    if let Source::Files = source {
        for index in 0..tiles.len() {
            let path = geometry::tile_path(index);
            std::fs::remove_file(workspace(&path)).map_err(|e| vec![format!("{path}: {e}")])?;
        }
    }
    Ok(bytes)
}

/// Where tile `index` lies, for messages.
fn describe(index: usize, rect: &Rect) -> String {
    format!(
        "tile {index} ({}, columns {}..{}, rows {}..{})",
        geometry::tile_path(index),
        rect.x,
        rect.x + rect.w,
        rect.y,
        rect.y + rect.h
    )
}

/// Whether tile `index` is there with its `w*h*3` bytes.
fn check_tile(index: usize, rect: &Rect) -> Result<(), String> {
    let want = rect.rgb_len();
    match std::fs::metadata(workspace(&geometry::tile_path(index))) {
        Ok(meta) if meta.is_file() && meta.len() == want => Ok(()),
        Ok(meta) if meta.is_file() => Err(format!(
            "{} has {} bytes, want {want} ({}x{} RGB8)",
            describe(index, rect),
            meta.len(),
            rect.w,
            rect.h
        )),
        Ok(_) => Err(format!("{} is not a file", describe(index, rect))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(format!("{} is missing", describe(index, rect)))
        }
        Err(e) => Err(format!("{}: {e}", describe(index, rect))),
    }
}

/// Streams the frame into a PNG at `out`, one row of tiles at a time.
fn write_png(frame: &Frame, tiles: &[Rect], source: &Source, out: &Path) -> Result<(), String> {
    let png_err = |e: png::EncodingError| format!("{FRAME_PATH}: {e}");
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let file = File::create(out).map_err(|e| format!("{FRAME_PATH}: {e}"))?;
    let mut encoder = png::Encoder::new(BufWriter::new(file), frame.width, frame.height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    // Fixed settings: the same pixels always make the same file. fdeflate
    // (png's fast DEFLATE) encodes a 1920x1080 frame in a fraction of the
    // time zlib level 6 takes, for a file 2 % larger.
    encoder.set_deflate_compression(png::DeflateCompression::FdeflateUltraFast);
    encoder.set_filter(png::Filter::Adaptive);
    let mut writer = encoder.write_header().map_err(png_err)?;
    let mut stream = writer.stream_writer().map_err(png_err)?;
    let mut line = vec![0u8; frame.width as usize * 3];
    // Where each tile starts in the input.
    let mut offset = 0usize;
    let mut next = tiles.iter().enumerate();
    for band in tiles.chunks(frame.tiles_x as usize) {
        let mut readers: Vec<(&Rect, String, Box<dyn Read + '_>)> = Vec::with_capacity(band.len());
        for (index, rect) in next.by_ref().take(band.len()) {
            let path = geometry::tile_path(index);
            let reader: Box<dyn Read + '_> = match source {
                Source::Files => {
                    let file = File::open(workspace(&path)).map_err(|e| format!("{path}: {e}"))?;
                    Box::new(BufReader::new(file))
                }
                Source::Input(input) => {
                    let len = rect.rgb_len() as usize;
                    let bytes = input
                        .get(offset..offset + len)
                        .ok_or_else(|| format!("tile {index}: past the end of the input"))?;
                    offset += len;
                    Box::new(bytes)
                }
            };
            readers.push((rect, path, reader));
        }
        let rows = band.first().map_or(0, |r| r.h);
        for _ in 0..rows {
            for (rect, path, reader) in &mut readers {
                let start = rect.x as usize * 3;
                let end = start + rect.w as usize * 3;
                let dst = line
                    .get_mut(start..end)
                    .ok_or_else(|| format!("{path}: outside the frame"))?;
                reader.read_exact(dst).map_err(|e| format!("{path}: {e}"))?;
            }
            stream
                .write_all(&line)
                .map_err(|e| format!("{FRAME_PATH}: {e}"))?;
        }
    }
    stream.finish().map_err(png_err)?;
    writer.finish().map_err(png_err)
}
