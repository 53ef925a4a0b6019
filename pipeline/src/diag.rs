//! Spec sources and their diagnostics: byte spans turned into `file:line:column` and a
//! rustc-style excerpt with a caret under the offending text.

use std::fmt;
use std::fmt::Write as _;
use std::ops::Range;

/// The text a spec was parsed from: the spec file itself, followed by any `--set KEY=VALUE`
/// overrides (each parsed on its own, with spans into this combined text).
#[derive(Debug, Clone)]
pub struct Source {
    name: String,
    text: String,
    spec_len: usize,
    overrides: Vec<(Range<usize>, String)>,
    /// Spans of the spec text written from command-line flags, with the flag as typed.
    flags: Vec<(Range<usize>, String)>,
}

impl Source {
    /// A source named `name` (a path or `<built-in preview>`) with the spec `text` and the
    /// `--set` overrides.
    pub fn new(name: impl Into<String>, text: impl Into<String>, overrides: &[String]) -> Source {
        let mut text = text.into();
        let spec_len = text.len();
        let mut ranges = Vec::with_capacity(overrides.len());
        for o in overrides {
            text.push('\n');
            let start = text.len();
            text.push_str(o);
            ranges.push((start..text.len(), o.clone()));
        }
        Source {
            name: name.into(),
            text,
            spec_len,
            overrides: ranges,
            flags: Vec::new(),
        }
    }

    /// The same source, its spec text generated from command-line flags: `flags` gives the
    /// byte range each flag wrote (and the flag as typed), so an error there names the flag
    /// instead of a line of a spec the user never saw.
    #[must_use]
    pub fn with_flags(mut self, flags: Vec<(Range<usize>, String)>) -> Source {
        self.flags = flags;
        self
    }

    /// The source's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The spec file's text (without overrides).
    pub fn spec_text(&self) -> &str {
        &self.text[..self.spec_len]
    }

    /// The spec followed by the overrides (what spans index).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Byte ranges of the overrides in [`Source::text`], with their text.
    pub fn overrides(&self) -> &[(Range<usize>, String)] {
        &self.overrides
    }

    /// 1-based line and column (in characters) of byte `pos` within the spec file.
    pub fn line_col(&self, pos: usize) -> (usize, usize) {
        let pos = floor_char_boundary(self.spec_text(), pos.min(self.spec_len));
        let before = &self.text[..pos];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let col = self.text[line_start..pos].chars().count() + 1;
        (line, col)
    }

    /// Renders `message` pointing at `span` like rustc does.
    pub fn render(&self, message: &str, span: Option<Range<usize>>) -> String {
        let mut out = format!("error: {message}\n");
        let Some(span) = span else {
            let _ = writeln!(out, "  --> {}", self.name);
            return out;
        };
        let start = span.start.min(self.text.len());
        let end = span.end.clamp(start, self.text.len());
        if let Some((range, arg)) = self
            .overrides
            .iter()
            .find(|(r, _)| r.start <= start && start <= r.end)
        {
            let col0 = self.text[range.start..start].chars().count();
            let width = self.text[start..end.min(range.end)].chars().count().max(1);
            let (arg, col0, width) = window(arg, col0, width);
            let _ = writeln!(out, "  --> --set {arg}");
            let _ = writeln!(
                out,
                "   |\n   | --set {arg}\n   | {}{}",
                " ".repeat(6 + col0),
                "^".repeat(width)
            );
            return out;
        }
        if let Some((_, flag)) = self
            .flags
            .iter()
            .find(|(r, _)| r.start <= start && start <= r.end)
        {
            let (flag, _, _) = window(flag, 0, 1);
            let _ = writeln!(out, "  --> {flag}");
            return out;
        }
        let start = start.min(self.spec_len);
        let (line, col) = self.line_col(start);
        let _ = writeln!(out, "  --> {}:{line}:{col}", self.name);
        let spec = self.spec_text();
        let start = floor_char_boundary(spec, start);
        let line_start = spec[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = spec[start..].find('\n').map_or(spec.len(), |i| start + i);
        let line_text = spec[line_start..line_end].trim_end_matches('\r');
        let end = floor_char_boundary(spec, end.clamp(start, self.spec_len)).min(line_end);
        let width = spec[start..end].chars().count().max(1);
        let (line_text, col0, width) = window(line_text, col - 1, width);
        let num = line.to_string();
        let pad = " ".repeat(num.len());
        let _ = writeln!(
            out,
            "{pad} |\n{num} | {line_text}\n{pad} | {}{}",
            " ".repeat(col0),
            "^".repeat(width)
        );
        out
    }
}

/// Longest excerpt line shown, in characters; a longer line (a megabyte of select text) is
/// shown as a window around the caret.
const MAX_EXCERPT: usize = 100;

/// `line` with the caret at character `col0` spanning `width` characters, cut to a window of
/// [`MAX_EXCERPT`] characters around the caret when longer (`...` marks the cuts). Returns the
/// text shown and the caret's column and width in it.
fn window(line: &str, col0: usize, width: usize) -> (String, usize, usize) {
    let total = line.chars().count();
    if total <= MAX_EXCERPT {
        return (line.to_string(), col0, width);
    }
    // A caret past the line's end (a span ending in a stripped '\r', or at the end of input)
    // sits just after its last character.
    let col0 = col0.min(total);
    let start = col0.saturating_sub(MAX_EXCERPT / 3);
    let end = (start + MAX_EXCERPT).min(total);
    let mut shown = String::new();
    let mut caret = col0 - start;
    if start > 0 {
        shown.push_str("...");
        caret += 3;
    }
    shown.extend(line.chars().skip(start).take(end - start));
    if end < total {
        shown.push_str("...");
    }
    (shown, caret, width.min(end.saturating_sub(col0)).max(1))
}

fn floor_char_boundary(s: &str, mut pos: usize) -> usize {
    pos = pos.min(s.len());
    while !s.is_char_boundary(pos) {
        pos -= 1;
    }
    pos
}

/// An error in a spec: a message and, when known, the span of the offending text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError {
    /// What is wrong and what was expected.
    pub message: String,
    /// Byte range in [`Source::text`].
    pub span: Option<Range<usize>>,
}

impl SpecError {
    /// An error at `span`.
    pub fn at(span: Range<usize>, message: impl Into<String>) -> SpecError {
        SpecError {
            message: message.into(),
            span: Some(span),
        }
    }

    /// An error without a location.
    pub fn global(message: impl Into<String>) -> SpecError {
        SpecError {
            message: message.into(),
            span: None,
        }
    }

    /// This error bound to its source, ready to print.
    pub fn located(self, source: &Source) -> LocatedError {
        let position = self
            .span
            .as_ref()
            .and_then(|s| (s.start <= source.spec_len).then(|| source.line_col(s.start)));
        LocatedError {
            rendered: source.render(&self.message, self.span.clone()),
            message: self.message,
            position,
        }
    }
}

impl fmt::Display for SpecError {
    /// The message alone; [`SpecError::located`] adds the file, line, column and excerpt.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SpecError {}

impl From<toml::de::Error> for SpecError {
    fn from(e: toml::de::Error) -> Self {
        SpecError {
            message: e.message().trim_end().to_string(),
            span: e.span(),
        }
    }
}

/// A spec error with its source excerpt rendered (what the binary prints).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocatedError {
    /// The bare message.
    pub message: String,
    /// `(line, column)` in the spec file, 1-based, when the error is inside it.
    pub position: Option<(usize, usize)>,
    /// The full rustc-style text (`error: ...`, `--> file:line:col`, excerpt, caret).
    pub rendered: String,
}

impl fmt::Display for LocatedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.rendered.trim_end())
    }
}

impl std::error::Error for LocatedError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_and_caret() {
        let src = Source::new("spec.toml", "[stack]\nlevels = -3\n", &[]);
        let pos = src.text().find("-3").unwrap();
        assert_eq!(src.line_col(pos), (2, 10));
        let r = src.render("bad", Some(pos..pos + 2));
        assert_eq!(
            r,
            "error: bad\n  --> spec.toml:2:10\n  |\n2 | levels = -3\n  |          ^^\n"
        );
    }

    #[test]
    fn override_spans() {
        let src = Source::new("spec.toml", "[stack]\n", &["stack.levels=0".to_string()]);
        let pos = src.text().rfind('0').unwrap();
        let r = src.render("zero", Some(pos..pos + 1));
        assert!(r.contains("--> --set stack.levels=0"), "{r}");
        assert!(r.contains("                   ^"), "{r}");
        let e = SpecError::at(pos..pos + 1, "zero").located(&src);
        assert_eq!(e.position, None);
    }

    #[test]
    fn a_caret_past_the_end_of_a_long_line_is_shown_at_its_end() {
        // Found by the spec_parse fuzz target: a span past a 150-character line's last
        // character made the window's range negative.
        let line = "y".repeat(150);
        let (shown, caret, width) = window(&line, 200, 4);
        assert!(shown.starts_with("...") && shown.ends_with('y'), "{shown}");
        assert_eq!(caret, shown.chars().count());
        assert_eq!(width, 1);
        let text = format!("[stack]\nlevels = \"{line}\r\n");
        let src = Source::new("spec.toml", text.as_str(), &[]);
        let r = src.render("bad", Some(text.len() - 2..text.len()));
        assert!(r.contains('^'), "{r}");
    }

    #[test]
    fn huge_lines_are_shown_as_a_window_around_the_caret() {
        let value = "1".repeat(1 << 20);
        let text = format!("[stack]\nlevels = {value}x\n");
        let src = Source::new("spec.toml", text.as_str(), &[]);
        let pos = text.find('x').unwrap();
        let r = src.render("bad", Some(pos..pos + 1));
        assert!(r.len() < 400, "{r}");
        let lines: Vec<&str> = r.lines().collect();
        let caret = lines[4].find('^').unwrap();
        assert_eq!(lines[3].as_bytes()[caret], b'x', "{r}");
        let arg = format!("stack.levels={value}");
        let src = Source::new("spec.toml", "[stack]\n", std::slice::from_ref(&arg));
        let r = src.render("bad", Some(src.text().len() - 1..src.text().len()));
        assert!(r.len() < 400, "{r}");
    }

    #[test]
    fn spans_past_the_end_and_inside_chars() {
        let src = Source::new("s", "a = \"é\"", &[]);
        let _ = src.render("x", Some(5..6));
        let _ = src.render("x", Some(100..200));
        #[allow(clippy::reversed_empty_ranges)]
        let _ = src.render("x", Some(6..2));
    }
}
