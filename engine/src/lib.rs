//! Lazy zoom-stack arrays (being built: see issue 3).
