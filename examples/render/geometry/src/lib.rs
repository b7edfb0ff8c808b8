//! How the render example splits a frame into tiles — the one definition
//! its `tile` kernel and `assemble` command share.
//!
//! A `width`×`height` frame cut into `tiles_x`×`tiles_y` tiles: tile
//! `(tx, ty)` covers columns `tx*width/tiles_x .. (tx+1)*width/tiles_x` and
//! rows `ty*height/tiles_y .. (ty+1)*height/tiles_y` (integer division), so
//! the tiles cover the frame exactly, differing in size by at most one
//! pixel. Tiles are numbered row-major, `index = ty*tiles_x + tx`, and
//! `assemble` reads tile `index` from `render/tiles/{index}.rgb` in the
//! workspace (decimal, no padding).

/// A rectangle of pixels: `w`×`h` from column `x`, row `y`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rect {
    /// First column.
    pub x: u32,
    /// First row.
    pub y: u32,
    /// Columns.
    pub w: u32,
    /// Rows.
    pub h: u32,
}

impl Rect {
    /// The RGB8 bytes of a tile this size: `w*h*3`.
    pub fn rgb_len(&self) -> u64 {
        u64::from(self.w) * u64::from(self.h) * 3
    }
}

/// Part `i` of `size` cut into `parts`: `i*size/parts .. (i+1)*size/parts`,
/// as (start, length). `parts` must not be 0 and `i < parts`.
pub fn span(size: u32, parts: u32, i: u32) -> (u32, u32) {
    let cut = |k: u32| (u64::from(k) * u64::from(size) / u64::from(parts.max(1))) as u32;
    let (start, end) = (cut(i), cut(i + 1));
    (start, end - start)
}

/// Tile `(tx, ty)` of a `width`×`height` frame cut into `tiles_x`×`tiles_y`.
pub fn tile(width: u32, height: u32, tiles_x: u32, tiles_y: u32, tx: u32, ty: u32) -> Rect {
    let (x, w) = span(width, tiles_x, tx);
    let (y, h) = span(height, tiles_y, ty);
    Rect { x, y, w, h }
}

/// The tiles of a frame in row-major order (tile `index = ty*tiles_x +
/// tx` comes `index`-th).
pub fn tiles(width: u32, height: u32, tiles_x: u32, tiles_y: u32) -> Vec<Rect> {
    (0..tiles_y)
        .flat_map(|ty| (0..tiles_x).map(move |tx| tile(width, height, tiles_x, tiles_y, tx, ty)))
        .collect()
}

/// Where `assemble` reads tile `index`, relative to the workspace.
pub fn tile_path(index: usize) -> String {
    format!("render/tiles/{index}.rgb")
}

/// Where `assemble` writes the frame, relative to the workspace.
pub const FRAME_PATH: &str = "render/frame.png";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiles_cover_the_frame_exactly() {
        for (w, h, tx, ty) in [
            (1920, 1080, 16, 9),
            (64, 36, 4, 3),
            (7, 5, 3, 2),
            (5, 5, 5, 5),
        ] {
            let tiles = tiles(w, h, tx, ty);
            assert_eq!(tiles.len(), (tx * ty) as usize);
            let mut covered = vec![0u8; (w * h) as usize];
            for t in &tiles {
                for row in t.y..t.y + t.h {
                    for col in t.x..t.x + t.w {
                        covered[(row * w + col) as usize] += 1;
                    }
                }
            }
            assert!(covered.iter().all(|&c| c == 1), "{w}x{h} in {tx}x{ty}");
        }
    }

    #[test]
    fn integer_division_sets_the_edges() {
        assert_eq!(
            tile(7, 5, 3, 2, 0, 0),
            Rect {
                x: 0,
                y: 0,
                w: 2,
                h: 2
            }
        );
        assert_eq!(
            tile(7, 5, 3, 2, 1, 0),
            Rect {
                x: 2,
                y: 0,
                w: 2,
                h: 2
            }
        );
        assert_eq!(
            tile(7, 5, 3, 2, 2, 1),
            Rect {
                x: 4,
                y: 2,
                w: 3,
                h: 3
            }
        );
        assert_eq!(
            tile(1920, 1080, 16, 9, 15, 8),
            Rect {
                x: 1800,
                y: 960,
                w: 120,
                h: 120
            }
        );
        assert_eq!(tile_path(17), "render/tiles/17.rgb");
    }
}
