//! Sinks for zoomstack tile streams (being built: see issue 4).
