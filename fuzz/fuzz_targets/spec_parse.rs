//! Spec parsing never panics: arbitrary bytes, as a spec file with and without `--set`
//! overrides, are either a spec or an error whose rendered excerpt points inside the text.
//! For specs that parse, describing them (plans, tables, render jobs) must not panic either.

#![no_main]

use libfuzzer_sys::fuzz_target;
use zoomstack_pipeline::diag::Source;
use zoomstack_pipeline::{Pipeline, spec};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The first line (if it starts with "#set ") doubles as an override, to reach the merge code.
    let overrides: Vec<String> = text
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("#set "))
        .map(|o| vec![o.to_string()])
        .unwrap_or_default();
    let source = Source::new("fuzz.toml", text, &overrides);
    match spec::parse(&source) {
        Ok(spec) => {
            if let Ok(p) = Pipeline::new(spec) {
                let _ = p.describe(std::path::Path::new("out"));
            }
        }
        Err(e) => {
            let located = e.located(&source);
            assert!(located.rendered.starts_with("error: "));
            if let Some((line, col)) = located.position {
                assert!(line >= 1 && col >= 1);
                assert!(line <= text.lines().count().max(1) + 1);
            }
        }
    }
});
