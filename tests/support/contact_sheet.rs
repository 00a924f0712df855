//! A contact sheet: many screenshots as labelled thumbnails in one PNG, so a
//! reviewer sees every page at every size at a glance. PNG in and out with
//! the `png` crate only; scaling (box average) and the labels (a 5×7 bitmap
//! font, ASCII) are drawn here, so no font has to be installed.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// An RGB image in memory.
struct Canvas {
    w: usize,
    h: usize,
    px: Vec<[u8; 3]>,
}

impl Canvas {
    fn new(w: usize, h: usize, fill: [u8; 3]) -> Canvas {
        Canvas {
            w,
            h,
            px: vec![fill; w * h],
        }
    }

    fn set(&mut self, x: usize, y: usize, c: [u8; 3]) {
        if x < self.w && y < self.h {
            self.px[y * self.w + x] = c;
        }
    }

    fn rect(&mut self, x: usize, y: usize, w: usize, h: usize, c: [u8; 3]) {
        for yy in y..(y + h).min(self.h) {
            for xx in x..(x + w).min(self.w) {
                self.px[yy * self.w + xx] = c;
            }
        }
    }

    /// `img` shrunk by `factor` (a box average), its top-left at (x, y).
    fn paste_scaled(&mut self, img: &Canvas, factor: usize, x: usize, y: usize) {
        let f = factor.max(1);
        for ty in 0..img.h / f {
            for tx in 0..img.w / f {
                let mut sum = [0u32; 3];
                for sy in 0..f {
                    for sx in 0..f {
                        let p = img.px[(ty * f + sy) * img.w + tx * f + sx];
                        for (s, v) in sum.iter_mut().zip(p) {
                            *s += u32::from(v);
                        }
                    }
                }
                let n = (f * f) as u32;
                self.set(
                    x + tx,
                    y + ty,
                    [(sum[0] / n) as u8, (sum[1] / n) as u8, (sum[2] / n) as u8],
                );
            }
        }
    }

    /// Text in the 5×7 font, each dot `scale` pixels, from (x, y).
    fn text(&mut self, x: usize, y: usize, s: &str, scale: usize, c: [u8; 3]) {
        for (i, ch) in s.chars().enumerate() {
            let rows = glyph(ch);
            let ox = x + i * 6 * scale;
            for (ry, row) in rows.iter().enumerate() {
                for rx in 0..5 {
                    if row & (0b10000 >> rx) != 0 {
                        self.rect(ox + rx * scale, y + ry * scale, scale, scale, c);
                    }
                }
            }
        }
    }
}

fn read_png(path: &Path) -> Result<Canvas, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut decoder = png::Decoder::new(std::io::BufReader::new(file));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder
        .read_info()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let size = reader
        .output_buffer_size()
        .ok_or_else(|| format!("{}: too large", path.display()))?;
    let mut buf = vec![0; size];
    let info = reader
        .next_frame(&mut buf)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let (w, h) = (info.width as usize, info.height as usize);
    let step = match info.color_type {
        png::ColorType::Rgba => 4,
        png::ColorType::Rgb => 3,
        png::ColorType::GrayscaleAlpha => 2,
        png::ColorType::Grayscale => 1,
        png::ColorType::Indexed => return Err(format!("{}: indexed colour", path.display())),
    };
    let mut px = Vec::with_capacity(w * h);
    for y in 0..h {
        let line = &buf[y * info.line_size..y * info.line_size + w * step];
        for p in line.chunks(step) {
            px.push(if step >= 3 {
                [p[0], p[1], p[2]]
            } else {
                [p[0], p[0], p[0]]
            });
        }
    }
    Ok(Canvas { w, h, px })
}

fn write_png(path: &Path, c: &Canvas) -> Result<(), String> {
    let file = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut enc = png::Encoder::new(std::io::BufWriter::new(file), c.w as u32, c.h as u32);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let mut w = enc.write_header().map_err(|e| e.to_string())?;
    let data: Vec<u8> = c.px.iter().flatten().copied().collect();
    w.write_image_data(&data).map_err(|e| e.to_string())?;
    w.finish().map_err(|e| e.to_string())
}

/// One entry on the sheet: a label and the screenshots shown side by side
/// under it (e.g. the same page at desktop and at phone width).
pub struct Entry {
    pub label: String,
    pub shots: Vec<PathBuf>,
}

/// Draws `entries` as a grid (`per_row` entries a row), each screenshot
/// shrunk by `factor`, and writes the sheet to `out`.
pub fn make(entries: &[Entry], per_row: usize, factor: usize, out: &Path) -> Result<(), String> {
    let images: Vec<Vec<Canvas>> = entries
        .iter()
        .map(|e| e.shots.iter().map(|p| read_png(p)).collect())
        .collect::<Result<_, _>>()?;
    let gap = 12;
    let label_h = 7 * 2 + 8;
    let cell_w = images
        .iter()
        .map(|imgs| imgs.iter().map(|i| i.w / factor + gap).sum::<usize>())
        .max()
        .unwrap_or(100)
        .max(200);
    let cell_h = images
        .iter()
        .flat_map(|imgs| imgs.iter().map(|i| i.h / factor))
        .max()
        .unwrap_or(100)
        + label_h
        + gap;
    let per_row = per_row.max(1);
    let rows = entries.len().div_ceil(per_row).max(1);
    let mut sheet = Canvas::new(per_row * cell_w + gap, rows * cell_h + gap, [232, 235, 239]);
    for (i, (entry, imgs)) in entries.iter().zip(&images).enumerate() {
        let x0 = gap + (i % per_row) * cell_w;
        let y0 = gap + (i / per_row) * cell_h;
        sheet.text(x0, y0 + 2, &entry.label, 2, [29, 39, 51]);
        let mut x = x0;
        for img in imgs {
            let (tw, th) = (img.w / factor, img.h / factor);
            // A thin frame so a white page stands out from the sheet.
            sheet.rect(x, y0 + label_h - 1, tw + 2, th + 2, [120, 130, 140]);
            sheet.paste_scaled(img, factor, x + 1, y0 + label_h);
            x += tw + gap;
        }
    }
    write_png(out, &sheet)
}

/// The 5×7 dots of an ASCII character (upper and lower case alike); an
/// unknown one is a filled box.
fn glyph(c: char) -> [u8; 7] {
    match c.to_ascii_uppercase() {
        'A' => [14, 17, 17, 31, 17, 17, 17],
        'B' => [30, 17, 17, 30, 17, 17, 30],
        'C' => [14, 17, 16, 16, 16, 17, 14],
        'D' => [30, 17, 17, 17, 17, 17, 30],
        'E' => [31, 16, 16, 30, 16, 16, 31],
        'F' => [31, 16, 16, 30, 16, 16, 16],
        'G' => [14, 17, 16, 23, 17, 17, 15],
        'H' => [17, 17, 17, 31, 17, 17, 17],
        'I' => [14, 4, 4, 4, 4, 4, 14],
        'J' => [7, 2, 2, 2, 2, 18, 12],
        'K' => [17, 18, 20, 24, 20, 18, 17],
        'L' => [16, 16, 16, 16, 16, 16, 31],
        'M' => [17, 27, 21, 21, 17, 17, 17],
        'N' => [17, 17, 25, 21, 19, 17, 17],
        'O' => [14, 17, 17, 17, 17, 17, 14],
        'P' => [30, 17, 17, 30, 16, 16, 16],
        'Q' => [14, 17, 17, 17, 21, 18, 13],
        'R' => [30, 17, 17, 30, 20, 18, 17],
        'S' => [15, 16, 16, 14, 1, 1, 30],
        'T' => [31, 4, 4, 4, 4, 4, 4],
        'U' => [17, 17, 17, 17, 17, 17, 14],
        'V' => [17, 17, 17, 17, 17, 10, 4],
        'W' => [17, 17, 17, 21, 21, 21, 10],
        'X' => [17, 17, 10, 4, 10, 17, 17],
        'Y' => [17, 17, 17, 10, 4, 4, 4],
        'Z' => [31, 1, 2, 4, 8, 16, 31],
        '0' => [14, 17, 19, 21, 25, 17, 14],
        '1' => [4, 12, 4, 4, 4, 4, 14],
        '2' => [14, 17, 1, 2, 4, 8, 31],
        '3' => [31, 2, 4, 2, 1, 17, 14],
        '4' => [2, 6, 10, 18, 31, 2, 2],
        '5' => [31, 16, 30, 1, 1, 17, 14],
        '6' => [6, 8, 16, 30, 17, 17, 14],
        '7' => [31, 1, 2, 4, 8, 8, 8],
        '8' => [14, 17, 17, 14, 17, 17, 14],
        '9' => [14, 17, 17, 15, 1, 2, 12],
        '-' => [0, 0, 0, 31, 0, 0, 0],
        '_' => [0, 0, 0, 0, 0, 0, 31],
        '/' => [1, 1, 2, 4, 8, 16, 16],
        '.' => [0, 0, 0, 0, 0, 12, 12],
        ':' => [0, 12, 12, 0, 12, 12, 0],
        '(' => [2, 4, 8, 8, 8, 4, 2],
        ')' => [8, 4, 2, 2, 2, 4, 8],
        ' ' => [0; 7],
        _ => [31; 7],
    }
}
