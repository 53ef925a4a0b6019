//! The `[stack]` table: the stack every sink draws from.

use zoomstack_engine::ZoomStack;
use zoomstack_kernel::StackParams;
use zoomstack_kernel::exact::{ExactReal, ExactStack};

use super::MAX_FRAME_SIDE;
use super::raw::{RawReal, RawStack, S};
use crate::diag::SpecError;

pub(super) fn stack_from_raw(raw: Option<S<RawStack>>) -> Result<ZoomStack, SpecError> {
    let d = StackParams::default();
    let Some(raw) = raw else {
        return Ok(ZoomStack::default());
    };
    let span = raw.span();
    let raw = raw.into_inner();
    let levels = match raw.levels {
        Some(v) => in_range(&v, "stack.levels", 1, i64::MAX as u64)?,
        None => zoomstack_engine::NOTEBOOK_LEVELS,
    };
    let side = |v: Option<S<u64>>, name: &str, default: usize| -> Result<usize, SpecError> {
        match v {
            Some(v) => Ok(in_range(&v, name, 1, MAX_FRAME_SIDE)? as usize),
            None => Ok(default),
        }
    };
    let height = side(raw.height, "stack.height", d.height)?;
    let width = side(raw.width, "stack.width", d.width)?;
    let (center_re, center_im) = match raw.center {
        Some(c) => {
            let [re, im] = c.get_ref().as_slice() else {
                return Err(SpecError::at(
                    c.span(),
                    format!(
                        "stack.center must be exactly two numbers [re, im], got {} numbers",
                        c.get_ref().len()
                    ),
                ));
            };
            (
                real(re, "stack.center[0]", Sign::Any)?,
                real(im, "stack.center[1]", Sign::Any)?,
            )
        }
        None => (exact_f64(d.center_re), exact_f64(d.center_im)),
    };
    let positive = |v: Option<S<RawReal>>, name: &'static str, default: f64| match v {
        Some(v) => real(&v, name, Sign::Positive),
        None => Ok(exact_f64(default)),
    };
    let scale0 = positive(raw.scale0, "stack.scale0", d.scale0)?;
    let zoom_per_level = positive(raw.zoom_per_level, "stack.zoom_per_level", d.zoom_per_level)?;
    let max_iter = match raw.max_iter {
        Some(v) => in_range(
            &v,
            "stack.max_iter",
            1,
            u64::from(zoomstack_kernel::MAX_ITER_LIMIT),
        )? as u32,
        None => d.max_iter,
    };
    let params = StackParams {
        height,
        width,
        center_re: center_re.1,
        center_im: center_im.1,
        scale0: scale0.1,
        zoom_per_level: zoom_per_level.1,
        max_iter,
    };
    let at =
        |e: zoomstack_engine::EngineError| SpecError::at(span.clone(), format!("[stack]: {e}"));
    let bla = raw.bla.as_ref().is_some_and(|b| *b.get_ref());
    match raw
        .arithmetic
        .as_ref()
        .map(|a| (a.get_ref().as_str(), a.span()))
    {
        None | Some(("numpy", _)) if bla => Err(SpecError::at(
            raw.bla.expect("bla is set").span(),
            "stack.bla = true needs arithmetic = \"exact\" (BLA skips updates of the exact \
             mode's delta loop; the numpy contract iterates every pixel as the notebook does)"
                .to_string(),
        )),
        None | Some(("numpy", _)) => ZoomStack::new(levels, params).map_err(at),
        Some(("exact", _)) => {
            let exact = ExactStack {
                height,
                width,
                center_re: center_re.0,
                center_im: center_im.0,
                scale0: scale0.0,
                zoom_per_level: zoom_per_level.0,
                max_iter,
                bla,
            };
            ZoomStack::exact(levels, exact).map_err(at)
        }
        Some((other, span)) => Err(SpecError::at(
            span,
            format!(
                "stack.arithmetic must be \"numpy\" (the notebook's f64 arithmetic, bit for bit) \
                 or \"exact\" (the true counts), got {}",
                zoomstack_engine::Excerpt::around(other, 0)
            ),
        )),
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Sign {
    Any,
    Positive,
}

/// An f64 default as an exact value and itself.
fn exact_f64(x: f64) -> (ExactReal, f64) {
    (ExactReal::from_f64(x).expect("a finite default"), x)
}

/// A real parameter as its exact value and its nearest f64 (numbers are their own f64; the
/// numpy contract rounds a decimal string to the nearest f64, as Python's `float` does).
fn real(v: &S<RawReal>, name: &'static str, sign: Sign) -> Result<(ExactReal, f64), SpecError> {
    let err = |msg: String| SpecError::at(v.span(), msg);
    let (exact, x) = match v.get_ref() {
        RawReal::Number(x) => {
            let exact = ExactReal::from_f64(*x)
                .map_err(|_| err(format!("{name} must be a finite number, got {x}")))?;
            (exact, *x)
        }
        RawReal::Decimal(text) => {
            let exact = ExactReal::parse(name, text).map_err(|e| err(e.to_string()))?;
            let x = exact.to_f64();
            (exact, x)
        }
    };
    if sign == Sign::Positive && !exact.is_positive() {
        let shown = match v.get_ref() {
            RawReal::Number(x) => x.to_string(),
            RawReal::Decimal(t) => zoomstack_engine::Excerpt::around(t, 0).to_string(),
        };
        return Err(err(format!(
            "{name} must be a finite number > 0, got {shown}"
        )));
    }
    if !x.is_finite() || (sign == Sign::Positive && x <= 0.0) {
        return Err(err(format!(
            "{name} = {} is outside the f64 range (about 2.2e-308 to 1.8e308 in magnitude), \
             which the stack's f64 parameters need",
            zoomstack_engine::Excerpt::around(&exact.to_string(), 0)
        )));
    }
    Ok((exact, x))
}

pub(super) fn in_range(v: &S<u64>, name: &str, lo: u64, hi: u64) -> Result<u64, SpecError> {
    let x = *v.get_ref();
    if (lo..=hi).contains(&x) {
        Ok(x)
    } else {
        Err(SpecError::at(
            v.span(),
            format!("{name} must be in {lo}..={hi}, got {x}"),
        ))
    }
}

pub(super) fn triple(v: &S<Vec<u64>>, name: &str, max: u64) -> Result<[usize; 3], SpecError> {
    let vals = v.get_ref();
    if vals.len() != 3 {
        return Err(SpecError::at(
            v.span(),
            format!(
                "{name} must be [levels, y, x] (3 numbers), got {} numbers",
                vals.len()
            ),
        ));
    }
    let mut out = [0usize; 3];
    for (k, &x) in vals.iter().enumerate() {
        if x < 1 || x > max {
            return Err(SpecError::at(
                v.span(),
                format!(
                    "{name}[{k}] ({} axis) must be in 1..={max}, got {x}",
                    zoomstack_engine::AXES[k]
                ),
            ));
        }
        out[k] = x as usize;
    }
    Ok(out)
}
