//! numpy basic slicing on the three axes `(level, y, x)`: [`SliceSpec`], the parser
//! [`parse_select`] and the normalized form [`IndexRange`].
//!
//! Semantics are Python's `slice.indices(len)` (`range(*s.indices(len))` is the index list):
//! omitted parts default by the sign of the step, negative indices count from the end, starts and
//! stops are clamped to the axis, empty results are allowed, a step of 0 is an error.
//!
//! Deliberate differences from numpy, all documented on [`parse_select`]: an integer index keeps
//! its axis (length 1) instead of dropping it, `[]`/empty input selects everything, integers
//! beyond `i64` saturate (which selects exactly what numpy selects), and `None`/`np.newaxis`,
//! boolean and fancy indexing are rejected.

use crate::error::{EngineError, Result};
use std::fmt;
pub use zoomstack_kernel::IndexRange;

/// Axis names, in order.
pub const AXES: [&str; 3] = ["level", "y", "x"];

/// One item of a numpy basic-slicing expression, before it is applied to an axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SliceSpec {
    /// `start:stop:step`, each part optional.
    Slice {
        /// First index (may be negative: counts from the end).
        start: Option<i64>,
        /// One past the last index (may be negative).
        stop: Option<i64>,
        /// Step (not 0; negative walks backwards). `None` means 1.
        step: Option<i64>,
    },
    /// A single index (may be negative). Unlike numpy, the axis is kept, with length 1.
    Index(i64),
}

impl SliceSpec {
    /// `:` (the whole axis).
    pub const FULL: SliceSpec = SliceSpec::Slice {
        start: None,
        stop: None,
        step: None,
    };

    /// `start:stop:step` with every part optional.
    pub const fn new(start: Option<i64>, stop: Option<i64>, step: Option<i64>) -> Self {
        SliceSpec::Slice { start, stop, step }
    }

    /// `start:stop:step` with every part given.
    ///
    /// ```
    /// use zoomstack_engine::SliceSpec;
    /// let r = SliceSpec::range(0, 20000, 500).indices(120000, "level").unwrap();
    /// assert_eq!((r.start, r.step, r.count), (0, 500, 40));
    /// ```
    pub const fn range(start: i64, stop: i64, step: i64) -> Self {
        SliceSpec::Slice {
            start: Some(start),
            stop: Some(stop),
            step: Some(step),
        }
    }

    /// `::step`.
    pub const fn step(step: i64) -> Self {
        SliceSpec::Slice {
            start: None,
            stop: None,
            step: Some(step),
        }
    }

    /// A single index, kept as an axis of length 1.
    pub const fn index(i: i64) -> Self {
        SliceSpec::Index(i)
    }

    /// Applies this item to an axis of length `len` (`axis` names it in errors): the selected
    /// indices, as Python's `range(*slice(start, stop, step).indices(len))`.
    ///
    /// ```
    /// use zoomstack_engine::SliceSpec;
    /// let r = SliceSpec::new(None, None, Some(-2)).indices(5, "x").unwrap();
    /// assert_eq!(r.to_vec(), vec![4, 2, 0]);
    /// assert!(SliceSpec::index(5).indices(5, "x").is_err());
    /// ```
    ///
    /// # Errors
    ///
    /// [`EngineError::IndexOutOfBounds`] for an index outside the axis, [`EngineError::ZeroStep`]
    /// for a slice with step 0.
    pub fn indices(&self, len: u64, axis: &'static str) -> Result<IndexRange> {
        match *self {
            SliceSpec::Index(i) => {
                let j = if i < 0 {
                    i128::from(i) + i128::from(len)
                } else {
                    i128::from(i)
                };
                if j < 0 || j >= i128::from(len) {
                    return Err(EngineError::IndexOutOfBounds {
                        axis,
                        index: i,
                        len,
                    });
                }
                Ok(IndexRange::new(j as u64, 1, 1))
            }
            SliceSpec::Slice { start, stop, step } => {
                let step = step.unwrap_or(1);
                if step == 0 {
                    return Err(EngineError::ZeroStep {
                        spec: self.to_string(),
                        axis,
                    });
                }
                Ok(slice_indices(start, stop, step, len))
            }
        }
    }
}

impl Default for SliceSpec {
    fn default() -> Self {
        SliceSpec::FULL
    }
}

impl fmt::Display for SliceSpec {
    /// numpy syntax: `0:20000:500`, `::2`, `:`, `5`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            SliceSpec::Index(i) => write!(f, "{i}"),
            SliceSpec::Slice { start, stop, step } => {
                if let Some(s) = start {
                    write!(f, "{s}")?;
                }
                f.write_str(":")?;
                if let Some(s) = stop {
                    write!(f, "{s}")?;
                }
                if let Some(s) = step {
                    write!(f, ":{s}")?;
                }
                Ok(())
            }
        }
    }
}

/// Python's `slice.indices`, then the count of `range(start, stop, step)`. `step != 0`.
fn slice_indices(start: Option<i64>, stop: Option<i64>, step: i64, len: u64) -> IndexRange {
    let len = i128::from(len);
    let st = i128::from(step);
    let (lower, upper) = if st > 0 { (0, len) } else { (-1, len - 1) };
    let conv = |v: Option<i64>, default: i128| match v {
        None => default,
        Some(v) => {
            let v = i128::from(v);
            if v < 0 {
                (v + len).max(lower)
            } else {
                v.min(upper)
            }
        }
    };
    let b = conv(start, if st < 0 { upper } else { lower });
    let e = conv(stop, if st < 0 { lower } else { upper });
    let count = if st > 0 {
        if e > b { (e - b - 1) / st + 1 } else { 0 }
    } else if b > e {
        (b - e - 1) / (-st) + 1
    } else {
        0
    };
    if count == 0 {
        IndexRange::EMPTY
    } else {
        IndexRange::new(b as u64, step, count as u64)
    }
}

/// numpy syntax with explicit numbers, `start:stop:step`, that selects exactly the indices of
/// `r` on any axis long enough to hold them: e.g. `0:20000:500`; the empty range is `0:0:1`. A
/// backwards range that ends at index 0 has no non-negative stop and is written `start::step`.
/// This is the one formatter of selections; [`parse_select`] reads its output back.
///
/// ```
/// use zoomstack_engine::{IndexRange, format_range};
/// assert_eq!(format_range(&IndexRange::new(0, 500, 40)), "0:20000:500");
/// assert_eq!(format_range(&IndexRange::new(4, -2, 3)), "4::-2");
/// assert_eq!(format_range(&IndexRange::EMPTY), "0:0:1");
/// ```
#[must_use]
pub fn format_range(r: &IndexRange) -> String {
    let stop = i128::from(r.start) + i128::from(r.count) * i128::from(r.step);
    if stop < 0 {
        format!("{}::{}", r.start, r.step)
    } else {
        format!("{}:{}:{}", r.start, stop, r.step)
    }
}

/// Parses a numpy basic-slicing expression on the three axes `(level, y, x)`.
///
/// Accepted: `[0:20000:500, ::2, ::2]`, with or without the brackets, whitespace anywhere
/// between tokens, a trailing comma, fewer than three items (the rest are `:`), one `...`
/// (expands to as many `:` as needed), integers with an optional sign and `_` separators.
///
/// Deliberate differences from numpy:
/// * an integer index `i` keeps its axis with length 1 (numpy drops the axis): the engine's
///   arrays are always 3-D `(level, y, x)`. Out-of-bounds indices are an error, as in numpy;
/// * an empty expression (`""` or `"[]"`) selects everything (Python rejects `a[]`);
/// * integers beyond the `i64` range saturate; since starts and stops are clamped to the axis,
///   this selects exactly what numpy selects;
/// * `None`/`np.newaxis`, booleans, lists (fancy indexing) and Python expressions are rejected.
///
/// ```
/// use zoomstack_engine::{SliceSpec, parse_select};
/// let s = parse_select("[0:20000:500, ::2, ::2]").unwrap();
/// assert_eq!(s, [SliceSpec::range(0, 20000, 500), SliceSpec::step(2), SliceSpec::step(2)]);
/// assert_eq!(parse_select("-1").unwrap()[0], SliceSpec::index(-1));
/// let err = parse_select("[::0]").unwrap_err().to_string();
/// assert!(err.contains("step cannot be zero") && err.contains("byte 3"), "{err}");
/// ```
///
/// # Errors
///
/// [`EngineError::SelectSyntax`] for text that is not this syntax, [`EngineError::SelectArity`]
/// for more than three items or more than one `...`, [`EngineError::SelectZeroStep`] for a
/// slice with step 0. Each names the byte where the problem is.
pub fn parse_select(text: &str) -> Result<[SliceSpec; 3]> {
    Parser {
        text,
        bytes: text.as_bytes(),
        pos: 0,
    }
    .parse()
}

/// An item as parsed, with its byte position.
enum Item {
    /// The item, where it starts, and where its step starts (if it has one).
    Spec(SliceSpec, usize, Option<usize>),
    Ellipsis(usize),
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn found(&self) -> String {
        if self.pos >= self.bytes.len() {
            return "end of input".to_string();
        }
        // A short snippet, cut on a char boundary.
        let rest = &self.text[self.pos..];
        let snippet: String = rest.chars().take(8).collect();
        format!("{snippet:?}")
    }

    fn syntax(&self, expected: &'static str) -> EngineError {
        EngineError::SelectSyntax {
            text: self.text.to_string(),
            position: self.pos,
            expected,
            found: self.found(),
        }
    }

    fn parse(mut self) -> Result<[SliceSpec; 3]> {
        self.skip_ws();
        let bracket = self.peek() == Some(b'[');
        if bracket {
            self.pos += 1;
        }
        let items = self.items(bracket)?;
        if bracket {
            self.skip_ws();
            if self.peek() != Some(b']') {
                return Err(self.syntax("',' or ']'"));
            }
            self.pos += 1;
        }
        self.skip_ws();
        if self.pos != self.bytes.len() {
            return Err(self.syntax(if bracket {
                "end of input after ']'"
            } else {
                "',' or end of input"
            }));
        }
        self.expand(&items)
    }

    /// Comma-separated items, up to the closing bracket or the end of input.
    fn items(&mut self, bracket: bool) -> Result<Vec<Item>> {
        let mut items = Vec::new();
        loop {
            self.skip_ws();
            let at_end = match self.peek() {
                None => true,
                Some(b']') => bracket,
                _ => false,
            };
            if at_end {
                // Empty expression, or a trailing comma.
                return Ok(items);
            }
            items.push(self.item()?);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                _ => return Ok(items),
            }
        }
    }

    fn item(&mut self) -> Result<Item> {
        let at = self.pos;
        if self.bytes[self.pos..].starts_with(b"...") {
            self.pos += 3;
            return Ok(Item::Ellipsis(at));
        }
        let start = self.int()?;
        self.skip_ws();
        if self.peek() != Some(b':') {
            return match start {
                Some((i, _)) => Ok(Item::Spec(SliceSpec::Index(i), at, None)),
                None => Err(self.syntax("an integer, ':' or '...'")),
            };
        }
        self.pos += 1;
        self.skip_ws();
        let stop = self.int()?;
        self.skip_ws();
        let mut step = None;
        if self.peek() == Some(b':') {
            self.pos += 1;
            self.skip_ws();
            step = self.int()?;
        }
        Ok(Item::Spec(
            SliceSpec::Slice {
                start: start.map(|s| s.0),
                stop: stop.map(|s| s.0),
                step: step.map(|s| s.0),
            },
            at,
            step.map(|s| s.1),
        ))
    }

    /// An optional integer: `[+-]? ws* digit (digit | '_' digit)*`, saturating to `i64`.
    fn int(&mut self) -> Result<Option<(i64, usize)>> {
        let at = self.pos;
        let mut neg = false;
        if let Some(c @ (b'+' | b'-')) = self.peek() {
            neg = c == b'-';
            self.pos += 1;
            self.skip_ws();
        }
        if !matches!(self.peek(), Some(b'0'..=b'9')) {
            if self.pos != at {
                return Err(self.syntax("a digit after the sign"));
            }
            return Ok(None);
        }
        let mut v: i128 = 0;
        let mut digits = 0usize;
        let mut first = None;
        loop {
            match self.peek() {
                Some(c @ b'0'..=b'9') => {
                    first.get_or_insert(c);
                    v = (v * 10 + i128::from(c - b'0')).min(1 << 80);
                    digits += 1;
                    self.pos += 1;
                }
                Some(b'_') if matches!(self.bytes.get(self.pos + 1), Some(b'0'..=b'9')) => {
                    self.pos += 1;
                }
                Some(b'_') => {
                    self.pos += 1;
                    return Err(self.syntax("a digit after '_'"));
                }
                _ => break,
            }
        }
        if first == Some(b'0') && digits > 1 && v != 0 {
            // Python: "leading zeros in decimal integer literals are not permitted".
            self.pos = at;
            return Err(self.syntax("an integer without leading zeros"));
        }
        if matches!(self.peek(), Some(c) if c.is_ascii_alphabetic() || c == b'.') {
            return Err(self.syntax("an integer (decimal digits only)"));
        }
        let v = if neg { -v } else { v };
        let v = v.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64;
        Ok(Some((v, at)))
    }

    fn expand(&self, items: &[Item]) -> Result<[SliceSpec; 3]> {
        let arity = |position: usize, problem: String| EngineError::SelectArity {
            text: self.text.to_string(),
            position,
            problem,
        };
        let mut ellipsis = None;
        let mut n = 0;
        for item in items {
            match item {
                Item::Ellipsis(p) if ellipsis.is_some() => {
                    return Err(arity(
                        *p,
                        "an index can only have a single ellipsis ('...')".to_string(),
                    ));
                }
                Item::Ellipsis(p) => ellipsis = Some(*p),
                Item::Spec(_, p, _) => {
                    n += 1;
                    if n == 4 {
                        let total = items.iter().filter(|i| matches!(i, Item::Spec(..))).count();
                        return Err(arity(
                            *p,
                            format!("too many indices: expected at most 3, got {total}"),
                        ));
                    }
                }
            }
        }
        let mut specs = [SliceSpec::FULL; 3];
        let mut axis = 0;
        for item in items {
            match item {
                Item::Ellipsis(_) => axis += 3 - n,
                Item::Spec(spec, _, step_at) => {
                    if let (SliceSpec::Slice { step: Some(0), .. }, Some(position)) =
                        (spec, step_at)
                    {
                        return Err(EngineError::SelectZeroStep {
                            text: self.text.to_string(),
                            position: *position,
                            axis: AXES[axis],
                        });
                    }
                    specs[axis] = *spec;
                    axis += 1;
                }
            }
        }
        Ok(specs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The naive model: walk the indices as `CPython`'s `slice.indices` + `range` would, one by one.
    fn naive(start: Option<i64>, stop: Option<i64>, step: i64, len: i64) -> Vec<u64> {
        let norm = |v: i64| if v < 0 { v + len } else { v };
        let mut out = vec![];
        if step > 0 {
            let mut i = start.map_or(0, norm).max(0);
            let e = stop.map_or(len, norm).min(len);
            while i < e {
                out.push(i as u64);
                i += step;
            }
        } else {
            let mut i = start.map_or(len - 1, norm).min(len - 1);
            let e = stop.map_or(-1, norm).max(-1);
            while i > e {
                out.push(i as u64);
                i += step;
            }
        }
        out
    }

    fn opt_int() -> impl Strategy<Value = Option<i64>> {
        prop_oneof![Just(None), (-40i64..40).prop_map(Some)]
    }

    proptest! {
        #[test]
        fn indices_match_naive_model(
            start in opt_int(), stop in opt_int(),
            step in prop_oneof![(-7i64..-1), (1i64..8)], len in 0i64..30,
        ) {
            let r = SliceSpec::new(start, stop, Some(step)).indices(len as u64, "x").unwrap();
            prop_assert_eq!(r.to_vec(), naive(start, stop, step, len));
        }

        #[test]
        fn parse_of_display_roundtrips(
            a in opt_int(), b in opt_int(), c in prop_oneof![Just(None), (1i64..9).prop_map(Some), (-9i64..-1).prop_map(Some)],
            i in -5i64..5, which in 0usize..3,
        ) {
            let mut specs = [SliceSpec::FULL; 3];
            specs[which] = SliceSpec::new(a, b, c);
            specs[(which + 1) % 3] = SliceSpec::index(i);
            let text = format!("[{}, {}, {}]", specs[0], specs[1], specs[2]);
            prop_assert_eq!(parse_select(&text).unwrap(), specs);
        }

        #[test]
        fn compose_is_composition(
            s1 in opt_int(), e1 in opt_int(), d1 in prop_oneof![(-4i64..-1), (1i64..5)],
            s2 in opt_int(), e2 in opt_int(), d2 in prop_oneof![(-4i64..-1), (1i64..5)],
            len in 0u64..40,
        ) {
            let outer = SliceSpec::new(s1, e1, Some(d1)).indices(len, "x").unwrap();
            let inner = SliceSpec::new(s2, e2, Some(d2)).indices(outer.count, "x").unwrap();
            let want: Vec<u64> = inner.to_vec().iter().map(|&k| outer.at(k)).collect();
            prop_assert_eq!(outer.compose(&inner).to_vec(), want);
        }

        #[test]
        fn parser_never_panics(s in "[\\[\\]0-9:, +\\-_.a]{0,24}") {
            let _ = parse_select(&s);
        }
    }

    #[test]
    fn notebook_preview() {
        let s = parse_select("[0:20000:500, ::2, ::2]").unwrap();
        let r: Vec<IndexRange> = s
            .iter()
            .zip([120000, 512, 512])
            .map(|(s, n)| s.indices(n, "x").unwrap())
            .collect();
        assert_eq!(r[0], IndexRange::new(0, 500, 40));
        assert_eq!(r[1], IndexRange::new(0, 2, 256));
        assert_eq!(format_range(&r[0]), "0:20000:500");
        assert_eq!(format_range(&r[1]), "0:512:2");
    }

    #[test]
    fn forms_accepted() {
        let full = [SliceSpec::FULL; 3];
        for t in [
            "",
            "[]",
            " [ ] ",
            ":",
            "[:, :, :]",
            "...",
            "[..., :]",
            "[:,]",
            "[::]",
        ] {
            assert_eq!(parse_select(t).unwrap(), full, "{t:?}");
        }
        assert_eq!(
            parse_select("[..., ::2]").unwrap(),
            [SliceSpec::FULL, SliceSpec::FULL, SliceSpec::step(2)]
        );
        assert_eq!(
            parse_select("5, ..., -1").unwrap(),
            [SliceSpec::index(5), SliceSpec::FULL, SliceSpec::index(-1)]
        );
        assert_eq!(
            parse_select("[1_000:- 2:+3]").unwrap()[0],
            SliceSpec::range(1000, -2, 3)
        );
        assert_eq!(
            parse_select("[99999999999999999999999:]").unwrap()[0],
            SliceSpec::new(Some(i64::MAX), None, None)
        );
        assert_eq!(
            parse_select("[0:00]").unwrap()[0],
            SliceSpec::new(Some(0), Some(0), None)
        );
    }

    #[test]
    fn typed_errors_name_text_and_position() {
        for (text, pos, word) in [
            ("[0:10:0]", 6, "step cannot be zero"),
            ("[:, ::0]", 6, "step cannot be zero"),
            ("[0:10", 5, "expected ',' or ']'"),
            ("[a]", 1, "expected an integer, ':' or '...'"),
            ("[1.5]", 2, "decimal digits only"),
            ("[0,1,2,3]", 7, "too many indices"),
            ("[..., ...]", 6, "single ellipsis"),
            ("[0:1:2:3]", 6, "expected ',' or ']'"),
            ("[-]", 2, "digit after the sign"),
            ("[1__0]", 3, "digit after '_'"),
            ("[01]", 1, "leading zeros"),
            ("[0]]", 3, "end of input after ']'"),
            ("0:1]", 3, "',' or end of input"),
            ("[None]", 1, "expected an integer"),
            ("[,]", 1, "expected an integer"),
            ("[1,,2]", 3, "expected an integer"),
        ] {
            let e = parse_select(text).unwrap_err();
            let msg = e.to_string();
            assert!(msg.contains(&format!("{text:?}")), "{msg}");
            assert!(msg.contains(&format!("byte {pos}")), "{text}: {msg}");
            assert!(msg.contains(word), "{text}: {msg}");
        }
        let e = SliceSpec::step(0).indices(4, "y").unwrap_err().to_string();
        assert!(e.contains("::0") && e.contains("y axis"), "{e}");
        let e = SliceSpec::index(-6)
            .indices(5, "x")
            .unwrap_err()
            .to_string();
        assert!(e.contains("-6") && e.contains("size 5"), "{e}");
    }

    #[test]
    fn extreme_values_do_not_overflow() {
        let r = SliceSpec::new(Some(i64::MIN), Some(i64::MAX), Some(i64::MAX))
            .indices(u64::MAX / 2, "level")
            .unwrap();
        assert_eq!(r.count, 1);
        let r = SliceSpec::new(None, None, Some(i64::MIN))
            .indices(10, "level")
            .unwrap();
        assert_eq!(r.to_vec(), vec![9]);
        assert!(SliceSpec::index(i64::MIN).indices(3, "x").is_err());
        let r = SliceSpec::new(None, None, Some(-1))
            .indices(3, "x")
            .unwrap();
        assert_eq!(format_range(&r), "2::-1");
        assert_eq!(format_range(&IndexRange::EMPTY), "0:0:1");
    }
}
