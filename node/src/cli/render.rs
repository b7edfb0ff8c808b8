//! `nexus render`: the render farm. A workbook with a `tile` kernel and an
//! `assemble` command (examples/render) renders a frame: the tiles are a
//! fabric job (any tier, any nodes), `assemble` encodes them as a PNG into
//! the sandbox's workspace (`render/frame.png`), and the PNG is fetched
//! to `-o`. The tile a pixel falls in never changes its value, so the PNG
//! is the same whichever nodes render which tiles.

use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use clap::Args;

use super::fabric::{follow, is_sandbox_id, kernel_request};
use crate::api::types::{decode_bytes, CallRequest, Encoding};
use crate::client::NodeClient;
use crate::fabric::request::DEFAULT_WIDTH;
use crate::fabric::{JobState, ResultOrder, Tier};
use nexus_errors::{Coded, ErrorCode, UserError};

/// Where `assemble` leaves the frame in the workspace volume.
pub const FRAME_PATH: &str = "render/frame.png";

/// `nexus render`.
#[derive(Debug, Args)]
pub struct RenderArgs {
    /// A workbook directory (packed and docked), a workbook file (docked)
    /// or the id of a sandbox docked from one.
    pub source: String,
    /// The frame's size, WIDTHxHEIGHT.
    #[arg(long, value_parser = parse_pair, default_value = "1920x1080")]
    pub size: (u32, u32),
    /// How the frame is cut into tiles, COLUMNSxROWS.
    #[arg(long, value_parser = parse_pair, default_value = "16x9")]
    pub tiles: (u32, u32),
    /// Where to write the PNG.
    #[arg(short = 'o', long, default_value = "frame.png")]
    pub out: PathBuf,
    /// How many tiles render at once.
    #[arg(long, default_value_t = DEFAULT_WIDTH)]
    pub width: usize,
    /// How each tile runs.
    #[arg(long, value_enum, default_value_t = Tier::Instance)]
    pub tier: Tier,
}

/// `AxB` as two positive numbers.
fn parse_pair(text: &str) -> Result<(u32, u32), String> {
    let (a, b) = text
        .split_once('x')
        .ok_or_else(|| format!("{text:?} is not AxB (e.g. 1920x1080)"))?;
    let number = |s: &str| match s.parse::<u32>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("{s:?} in {text:?} is not a positive number")),
    };
    Ok((number(a)?, number(b)?))
}

/// One tile: its pixel rectangle in the frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tile {
    /// Left column.
    pub x: u32,
    /// Top row.
    pub y: u32,
    /// Width in pixels.
    pub w: u32,
    /// Height in pixels.
    pub h: u32,
}

/// The tiles of a `width`×`height` frame cut into `columns`×`rows`, in
/// row-major order: column `c` spans `c*width/columns .. (c+1)*width/columns`.
pub fn tiles(size: (u32, u32), grid: (u32, u32)) -> Vec<Tile> {
    let edge = |i: u32, length: u32, parts: u32| {
        (u64::from(i) * u64::from(length) / u64::from(parts)) as u32
    };
    let mut tiles = Vec::new();
    for row in 0..grid.1 {
        for column in 0..grid.0 {
            let (x, y) = (edge(column, size.0, grid.0), edge(row, size.1, grid.1));
            tiles.push(Tile {
                x,
                y,
                w: edge(column + 1, size.0, grid.0) - x,
                h: edge(row + 1, size.1, grid.1) - y,
            });
        }
    }
    tiles
}

/// Renders the frame; returns the exit code.
pub async fn run(client: &NodeClient, args: RenderArgs, json: bool) -> Result<i32, UserError> {
    let (size, grid) = (args.size, args.tiles);
    if grid.0 > size.0 || grid.1 > size.1 {
        return Err(UserError::new(
            ErrorCode::RequestInvalid,
            format!(
                "--tiles {}x{} cuts a {}x{} frame into empty tiles",
                grid.0, grid.1, size.0, size.1
            ),
        ));
    }
    let sandbox = sandbox_of(client, &args.source).await?;
    let tiles = tiles(size, grid);
    let mut request = kernel_request(&sandbox, "tile")?;
    request.inputs = tiles
        .iter()
        .map(|t| {
            format!(
                r#"{{"width":{},"height":{},"x":{},"y":{},"w":{},"h":{}}}"#,
                size.0, size.1, t.x, t.y, t.w, t.h
            )
        })
        .collect();
    request.width = args.width;
    request.tier = args.tier;
    request.fail_fast = true;
    let mut pixels: Vec<Vec<u8>> = vec![Vec::new(); tiles.len()];
    let status = follow(client, &request, ResultOrder::Input, json, |line| {
        if let (Some(slot), Ok(bytes)) = (pixels.get_mut(line.index), line.output_bytes()) {
            *slot = bytes;
        }
    })
    .await?;
    if status.state != JobState::Done || status.failed > 0 {
        return Err(UserError::new(
            ErrorCode::CallTrapped,
            format!(
                "the tiles of job {} did not all render ({} failed)",
                status.id, status.failed
            ),
        ));
    }
    let stdin: Vec<u8> = pixels.concat();
    let assemble = CallRequest {
        args: [size.0, size.1, grid.0, grid.1]
            .iter()
            .map(u32::to_string)
            .collect(),
        stdin: BASE64.encode(stdin),
        stdin_encoding: Encoding::Base64,
        env: Default::default(),
    };
    let response = client.call(&sandbox, &assemble).await?;
    if response.exit_code != 0 {
        let stderr = decode_bytes(response.stderr, response.stderr_encoding).unwrap_or_default();
        return Err(UserError::new(
            ErrorCode::CallTrapped,
            format!(
                "assemble exited with {}: {}",
                response.exit_code,
                String::from_utf8_lossy(&stderr).trim()
            ),
        ));
    }
    let png = client.read_file(&sandbox, "workspace", FRAME_PATH).await?;
    std::fs::write(&args.out, &png).map_err(|e| {
        UserError::new(
            ErrorCode::RequestInvalid,
            format!("cannot write {}: {e}", args.out.display()),
        )
    })?;
    if json {
        println!(
            "{}",
            serde_json::json!({"event": "written", "sandbox": sandbox, "path": args.out, "bytes": png.len()})
        );
    } else {
        println!(
            "wrote {} ({}x{}, {} bytes) from sandbox {sandbox}",
            args.out.display(),
            size.0,
            size.1,
            png.len()
        );
    }
    Ok(0)
}

/// The sandbox to render with: `source` itself when it is no path, else a
/// new sandbox docked from the workbook file or packed directory.
async fn sandbox_of(client: &NodeClient, source: &str) -> Result<String, UserError> {
    let path = Path::new(source);
    if is_sandbox_id(source, path) {
        return Ok(source.to_owned());
    }
    let bytes = if path.is_dir() {
        let staging = tempfile::tempdir().map_err(|e| {
            UserError::new(
                ErrorCode::Internal,
                format!("cannot make a temporary directory: {e}"),
            )
        })?;
        let packed = staging.path().join("render.workbook");
        nexus_workbook::pack(path, &packed).map_err(|e| e.to_user_error())?;
        read(&packed)?
    } else {
        read(path)?
    };
    let sandbox = client.dock(bytes, None, None).await?;
    eprintln!(
        "docked {} as sandbox {}; render it again with `nexus render {}`",
        source, sandbox.id, sandbox.id
    );
    Ok(sandbox.id)
}

fn read(path: &Path) -> Result<Vec<u8>, UserError> {
    std::fs::read(path).map_err(|e| {
        UserError::new(
            ErrorCode::WorkbookUnreadable,
            format!("cannot read {}: {e}", path.display()),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::{tiles, Tile};

    #[test]
    fn tiles_cover_the_frame_in_row_major_order() {
        let cut = tiles((10, 5), (3, 2));
        assert_eq!(cut.len(), 6);
        assert_eq!(
            cut[0],
            Tile {
                x: 0,
                y: 0,
                w: 3,
                h: 2
            }
        );
        assert_eq!(
            cut[2],
            Tile {
                x: 6,
                y: 0,
                w: 4,
                h: 2
            }
        );
        assert_eq!(
            cut[5],
            Tile {
                x: 6,
                y: 2,
                w: 4,
                h: 3
            }
        );
        let area: u32 = cut.iter().map(|t| t.w * t.h).sum();
        assert_eq!(area, 50);
    }
}
