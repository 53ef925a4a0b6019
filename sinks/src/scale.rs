//! Mapping escape counts (`u16`) to 8-bit colormap indices.

use ndarray::ArrayView2;

use crate::SinkError;

/// How counts become 8-bit values (colormap indices).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scaling {
    /// The notebook's `to_uint8(arr, max_val)`, computed in `f32` exactly as numpy does:
    /// `a = clip(float32(v), 0, max)`, then `trunc(255 * a / max)` (a multiply then a divide,
    /// both rounded to `f32`). The same counts always give the same colour, across frames.
    Fixed {
        /// `max_val` (the notebook uses `MAX_ITER` = 256). Must be at least 1.
        max: u32,
    },
    /// stackview's behaviour (`stackview.animate`, `_img_to_rgb` with no display range): each
    /// frame is stretched from its own minimum to its own maximum, in `f64`:
    /// `trunc(clip((v - min) / (max - min) * 255, 0, 255))`, with `max - min` replaced by 1 when
    /// the frame is constant (a constant frame is all 0).
    PerFrame,
}

impl Default for Scaling {
    /// The notebook's `to_uint8` with `max_val = 256`.
    fn default() -> Self {
        Scaling::Fixed { max: 256 }
    }
}

/// The notebook's `to_uint8` for one value: `float32` clip to `[0, max]`, then
/// `trunc(255 * a / max)` in `float32`. `max` must be at least 1.
pub fn to_uint8(value: u16, max: u32) -> u8 {
    // numpy (NEP 50) casts the Python float `max_val` to float32 to operate on a float32 array.
    let m = max as f32;
    let a = f32::from(value).clamp(0.0, m);
    (255.0f32 * a / m) as u8
}

/// stackview's per-frame stretch for one value of a frame whose minimum is `min` and maximum `max`.
pub fn stretch(value: u16, min: u16, max: u16) -> u8 {
    let range = match max.saturating_sub(min) {
        0 => 1.0,
        r => f64::from(r),
    };
    let v = (f64::from(value) - f64::from(min)) / range * 255.0;
    v.clamp(0.0, 255.0) as u8
}

impl Scaling {
    /// The notebook's scaling for a stack with `max_iter` iterations (`to_uint8(a, max_iter)`).
    pub fn notebook(max_iter: u32) -> Scaling {
        Scaling::Fixed { max: max_iter }
    }

    /// Check the parameters (`max >= 1`).
    ///
    /// # Errors
    ///
    /// [`SinkError::InvalidParameter`] for [`Scaling::Fixed`] with `max` 0.
    pub fn validate(&self) -> Result<(), SinkError> {
        match *self {
            Scaling::Fixed { max: 0 } => Err(SinkError::invalid(
                "scaling maximum",
                0,
                "expected at least 1 (the notebook uses max_iter)",
            )),
            _ => Ok(()),
        }
    }

    /// Map one frame to 8-bit values, row-major, into `out` (resized to `height * width`).
    ///
    /// Uses a lookup table over the values that can occur, so the cost per pixel is one load.
    ///
    /// # Errors
    ///
    /// The errors of [`Scaling::validate`].
    // An `ArrayView2` is a small `Copy` handle, passed by value as ndarray (and `FrameSink`) do.
    #[allow(clippy::needless_pass_by_value)]
    pub fn apply(&self, frame: ArrayView2<'_, u16>, out: &mut Vec<u8>) -> Result<(), SinkError> {
        self.validate()?;
        out.clear();
        out.reserve(frame.len());
        if frame.is_empty() {
            return Ok(());
        }
        let (lo, hi) = frame
            .iter()
            .fold((u16::MAX, u16::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        let lut: Vec<u8> = match *self {
            Scaling::Fixed { max } => (lo..=hi).map(|v| to_uint8(v, max)).collect(),
            Scaling::PerFrame => (lo..=hi).map(|v| stretch(v, lo, hi)).collect(),
        };
        let lo = usize::from(lo);
        for row in frame.rows() {
            out.extend(row.iter().map(|&v| lut[usize::from(v) - lo]));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    #[test]
    fn notebook_values() {
        // 255 * a / 256 truncated: 0 -> 0, 1 -> 0, 2 -> 1, 255 -> 254, 256 -> 255.
        assert_eq!(to_uint8(0, 256), 0);
        assert_eq!(to_uint8(1, 256), 0);
        assert_eq!(to_uint8(2, 256), 1);
        assert_eq!(to_uint8(255, 256), 254);
        assert_eq!(to_uint8(256, 256), 255);
        // Clipped above max.
        assert_eq!(to_uint8(60000, 256), 255);
        assert_eq!(to_uint8(7, 1), 255);
    }

    #[test]
    fn stretch_values() {
        assert_eq!(stretch(5, 5, 5), 0);
        assert_eq!(stretch(5, 5, 6), 0);
        assert_eq!(stretch(6, 5, 6), 255);
        assert_eq!(stretch(1, 0, 2), 127);
        assert_eq!(stretch(256, 0, 256), 255);
    }

    #[test]
    fn apply_uses_frame_range() {
        let a = Array2::from_shape_vec((2, 2), vec![10u16, 20, 30, 40]).unwrap();
        let mut out = Vec::new();
        Scaling::PerFrame.apply(a.view(), &mut out).unwrap();
        assert_eq!(out, vec![0, 85, 170, 255]);
        Scaling::notebook(256).apply(a.view(), &mut out).unwrap();
        assert_eq!(out, [10u16, 20, 30, 40].map(|v| to_uint8(v, 256)).to_vec());
        // Non-standard layout (transposed view) is read in logical row-major order.
        Scaling::PerFrame.apply(a.t(), &mut out).unwrap();
        assert_eq!(out, vec![0, 170, 85, 255]);
    }

    #[test]
    fn zero_max_is_an_error() {
        let a = Array2::<u16>::zeros((1, 1));
        let err = Scaling::Fixed { max: 0 }
            .apply(a.view(), &mut Vec::new())
            .unwrap_err();
        assert!(err.to_string().contains("at least 1"), "{err}");
    }
}
