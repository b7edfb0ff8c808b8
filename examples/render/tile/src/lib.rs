//! The `tile` kernel of the render workbook: renders one tile of a frame
//! with a small path tracer ([`trace`]).
//!
//! Input: the JSON object `{"width":W,"height":H,"x":X,"y":Y,"w":TW,"h":TH}`
//! (the frame's size and the tile's rectangle; keys in any order, nothing
//! else). Output: `TW*TH*3` bytes, RGB8, row-major, top row first. A pixel
//! depends only on `(W, H, px, py)`, so the tiles of any split (see
//! `render-geometry`) put together are the frame rendered whole.
//!
//! Bad input fails the call the kernel way (`process` returns a negative
//! length; the host answers `CALL_TRAPPED`): `-1` input that is not that
//! JSON object, `-2` an empty frame or tile or a tile outside the frame,
//! `-3` a tile whose output would not fit the arena.

pub mod trace;

use nexus_guest::arena::KernelError;
use render_geometry::Rect;
use serde::Deserialize;

/// The arena: input in, the tile's pixels out. The largest tile is
/// `ARENA_BYTES / 3` pixels (a little over 1.39 million).
pub const ARENA_BYTES: usize = 4 << 20;

nexus_guest::kernel!(tile_kernel, ARENA_BYTES);

/// A tile to render: the frame's size and the tile's rectangle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TileRequest {
    /// The frame's width.
    pub width: u32,
    /// The frame's height.
    pub height: u32,
    /// The tile's first column.
    pub x: u32,
    /// The tile's first row.
    pub y: u32,
    /// The tile's width.
    pub w: u32,
    /// The tile's height.
    pub h: u32,
}

/// Why a tile is not rendered; its [`code`](TileError::code) is what
/// `process` negates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TileError {
    /// The input is not the JSON object of a [`TileRequest`] (code 1).
    BadInput,
    /// The frame or the tile is empty, or the tile reaches outside the
    /// frame (code 2).
    OutsideFrame,
    /// The tile's pixels would not fit the arena (code 3).
    TooLarge,
}

impl TileError {
    /// The error code: `process` returns `-code`.
    pub fn code(self) -> u32 {
        match self {
            TileError::BadInput => 1,
            TileError::OutsideFrame => 2,
            TileError::TooLarge => 3,
        }
    }
}

impl From<TileError> for KernelError {
    fn from(e: TileError) -> KernelError {
        KernelError::new(e.code())
    }
}

impl TileRequest {
    /// Parses and checks a request.
    pub fn parse(input: &[u8]) -> Result<TileRequest, TileError> {
        let req: TileRequest = serde_json::from_slice(input).map_err(|_| TileError::BadInput)?;
        let inside = |start: u32, len: u32, size: u32| {
            len > 0 && u64::from(start) + u64::from(len) <= u64::from(size)
        };
        if !inside(req.x, req.w, req.width) || !inside(req.y, req.h, req.height) {
            return Err(TileError::OutsideFrame);
        }
        if req.rect().rgb_len() > ARENA_BYTES as u64 {
            return Err(TileError::TooLarge);
        }
        Ok(req)
    }

    /// The tile's rectangle.
    pub fn rect(&self) -> Rect {
        Rect {
            x: self.x,
            y: self.y,
            w: self.w,
            h: self.h,
        }
    }
}

/// The kernel: a JSON request in, the tile's RGB8 pixels out.
pub fn tile_kernel(input: &[u8]) -> Result<Vec<u8>, TileError> {
    let req = TileRequest::parse(input)?;
    Ok(trace::render(
        req.width, req.height, req.x, req.y, req.w, req.h,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use render_geometry as geometry;

    fn request(json: &str) -> Result<TileRequest, TileError> {
        TileRequest::parse(json.as_bytes())
    }

    #[test]
    fn requests_parse_in_any_order_and_are_checked() {
        let want = TileRequest {
            width: 64,
            height: 36,
            x: 16,
            y: 12,
            w: 16,
            h: 12,
        };
        assert_eq!(
            request(r#"{"width":64,"height":36,"x":16,"y":12,"w":16,"h":12}"#),
            Ok(want)
        );
        assert_eq!(
            request(r#" {"h":12, "w":16, "y":12, "x":16, "height":36, "width":64} "#),
            Ok(want)
        );
        for (json, err) in [
            ("", TileError::BadInput),
            ("not json", TileError::BadInput),
            (
                r#"{"width":64,"height":36,"x":0,"y":0,"w":16}"#,
                TileError::BadInput,
            ),
            (
                r#"{"width":64,"height":36,"x":0,"y":0,"w":16,"h":1,"z":1}"#,
                TileError::BadInput,
            ),
            (
                r#"{"width":-64,"height":36,"x":0,"y":0,"w":16,"h":1}"#,
                TileError::BadInput,
            ),
            (
                r#"{"width":64,"height":36,"x":0,"y":0,"w":1.5,"h":1}"#,
                TileError::BadInput,
            ),
            (
                r#"{"width":0,"height":36,"x":0,"y":0,"w":0,"h":1}"#,
                TileError::OutsideFrame,
            ),
            (
                r#"{"width":64,"height":36,"x":0,"y":0,"w":0,"h":1}"#,
                TileError::OutsideFrame,
            ),
            (
                r#"{"width":64,"height":36,"x":60,"y":0,"w":5,"h":1}"#,
                TileError::OutsideFrame,
            ),
            (
                r#"{"width":64,"height":36,"x":0,"y":36,"w":1,"h":1}"#,
                TileError::OutsideFrame,
            ),
            (
                r#"{"width":64,"height":36,"x":4294967295,"y":0,"w":4294967295,"h":1}"#,
                TileError::OutsideFrame,
            ),
            (
                r#"{"width":4000,"height":4000,"x":0,"y":0,"w":1200,"h":1200}"#,
                TileError::TooLarge,
            ),
        ] {
            assert_eq!(request(json), Err(err), "{json}");
        }
    }

    #[test]
    fn tiles_put_together_are_the_whole_frame() {
        let (width, height) = (24, 14);
        let whole = trace::render(width, height, 0, 0, width, height);
        assert_eq!(whole.len(), (width * height * 3) as usize);
        let mut pieced = vec![0u8; whole.len()];
        for (i, t) in geometry::tiles(width, height, 5, 3).iter().enumerate() {
            let tile = trace::render(width, height, t.x, t.y, t.w, t.h);
            assert_eq!(tile.len() as u64, t.rgb_len(), "tile {i}");
            for row in 0..t.h {
                let src = (row * t.w * 3) as usize;
                let dst = (((t.y + row) * width + t.x) * 3) as usize;
                let n = (t.w * 3) as usize;
                pieced[dst..dst + n].copy_from_slice(&tile[src..src + n]);
            }
        }
        assert_eq!(pieced, whole);
        // Not a blank frame: the scene has many colours.
        let distinct: std::collections::BTreeSet<&[u8]> = whole.chunks(3).collect();
        assert!(distinct.len() > 50, "{} colours", distinct.len());
    }
}
